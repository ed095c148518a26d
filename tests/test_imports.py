"""What graded code may import (engine/imports.py), and the one declaration it comes from.

The guard is exercised in a fresh interpreter (it replaces builtins.__import__), on a fake
student package; the environment's derivations are checked against setup.sh's inputs and
the handout's requirements.
"""
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import PARTS, REPO
from autograder.engine.imports import imported_names
from autograder.hw4.environment import ENVIRONMENT

PROBE = """
import json, sys
sys.path[:0] = [{repo!r}, {root!r}]
from autograder.engine.imports import ImportGuard
ImportGuard({allowed!r}, "pkg", {root!r} + "/", ["pkg.ok_stdlib", "pkg.ok_allowed", "pkg.sibling", "pkg.bad_direct",
            "pkg.bad_from", "pkg.bad_cached", "pkg.bad_dynamic", "pkg.bad_exec", "pkg.bad_helper",
            "pkg.bad_package_helper"]).install()
results = {{}}
for name in ("pkg.ok_stdlib", "pkg.ok_allowed", "pkg.sibling", "pkg.bad_direct", "pkg.bad_from", "pkg.bad_cached",
             "pkg.bad_dynamic", "pkg.bad_exec", "pkg.bad_helper", "pkg.bad_package_helper"):
    try:
        __import__(name)
        results[name] = "ok"
    except ImportError as error:
        results[name] = type(error).__name__ + ": " + str(error)
import numpy                                   # imports made outside graded code are never refused
import yaml
results["outside"] = "ok"
print(json.dumps(results))
"""

MODULES = {
    "ok_stdlib.py": "import math, json, collections.abc\nfrom functools import partial\n",
    "ok_allowed.py": "import numpy as np\nfrom numpy import linalg\n",
    "sibling.py": "from pkg import ok_stdlib\nfrom . import ok_allowed\nimport pkg.ok_stdlib\n",
    "bad_direct.py": "import scipy\n",
    "bad_from.py": "from sklearn.linear_model import LinearRegression\n",
    "bad_cached.py": "import yaml\n",            # pytest's own dependency: imported already, still refused
    "bad_dynamic.py": "import importlib\nimportlib.import_module('pandas')\n",
    "bad_exec.py": "exec('import requests')\n",
    "bad_helper.py": "import helpers\n",
    "bad_package_helper.py": "from .helpers import f\n",
    "helpers.py": "def f(): pass\n",          # in the package, but not a graded file
}


def run_probe(tmp_path):
    package = tmp_path / "student" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, text in MODULES.items():
        (package / name).write_text(text)
    probe = tmp_path / "probe.py"
    probe.write_text("import yaml\n" + PROBE.format(repo=str(REPO), root=str(tmp_path / "student"), allowed=["numpy"]))
    done = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_graded_code_imports_only_the_allowed_set(tmp_path):
    results = run_probe(tmp_path)
    for name in ("pkg.ok_stdlib", "pkg.ok_allowed", "pkg.sibling", "outside"):
        assert results[name] == "ok", (name, results[name])
    for name, module in (("pkg.bad_direct", "scipy"), ("pkg.bad_from", "sklearn"), ("pkg.bad_cached", "yaml"),
                         ("pkg.bad_dynamic", "pandas"), ("pkg.bad_exec", "requests"), ("pkg.bad_helper", "helpers"),
                         ("pkg.bad_package_helper", "pkg.helpers")):
        message = results[name]
        assert message.startswith("ImportNotAllowed: "), (name, message)
        assert f"imports {module}, which the grader does not provide" in message
        assert "the Python standard library, numpy and the graded files of pkg/" in message
    assert "pkg/bad_direct.py imports scipy" in results["pkg.bad_direct"]


def test_the_declaration_drives_the_zip_the_handout_and_the_worker(manifests, autograder_zips):
    allowed = ENVIRONMENT.allowed_modules()
    assert {"torch", "numpy", "matplotlib", "tqdm"} <= set(allowed)
    for part in PARTS:
        manifest = manifests[part]
        assert manifest["allowed_imports"] == allowed
        assert manifest["requirements"] == ENVIRONMENT.gradescope_requirements()
        with zipfile.ZipFile(autograder_zips[part]) as archive:
            requirements = archive.read("requirements.txt").decode().splitlines()
            setup = archive.read("setup.sh").decode()
        assert [line for line in requirements if not line.startswith("#")] == ENVIRONMENT.gradescope_requirements()
        assert "requirements.txt" in setup and "--index-url" in setup
        handout = (REPO / "student_template" / part / "requirements.txt").read_text().splitlines()
        for requirement in ENVIRONMENT.student_requirements():
            assert requirement in handout, (part, requirement)
    # The development venv installs the same declaration (Makefile: autograder.tools.requirements).
    from importlib.metadata import version
    from autograder.tools.requirements import declared
    assert declared() == ENVIRONMENT.gradescope_requirements()
    torch_pin = next(p.requirement for p in ENVIRONMENT.graded if p.name == "torch")
    assert version("torch").split("+")[0] == torch_pin.split("==")[1], "the development venv has Gradescope's torch"


def test_every_declared_package_says_why():
    for package in ENVIRONMENT.graded + ENVIRONMENT.grader:
        assert len(package.why) > 20, package.name


@pytest.mark.parametrize("source, names", [
    ("import a.b as c\nfrom d.e import f\nfrom . import g\nfrom .h import i\n", ["a.b", "d.e"]),
    ("def f(:\n", []),
])
def test_imported_names_are_read_statically(source, names):
    assert imported_names(source) == names
