"""The TA's pipeline for HW4: handout, reference data, zips, and a self-check through the zips."""
import ast
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder.engine.strip import strip_tree


def zip_path(repo: Path, part: str) -> Path:
    return repo / "dist" / f"hw4_{part}_autograder.zip"


def strip(repo: Path, part: str, table: str) -> bool:
    """student_template/<part>: the stripped solution, plus the handout's own files
    (handout/common/ for both parts, then handout/<part>/)."""
    target = repo / "student_template" / part
    written = strip_tree(repo / "solution" / part, target)
    for extras in (repo / "handout" / "common", repo / "handout" / part):     # shared files, then the part's
        if extras.is_dir():
            shutil.copytree(extras, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
    print(f"{part}: student_template/{part} written ({len(written)} files stripped)")
    write_public_tests(repo, part, table)
    return True


def generate(repo: Path, part: str, table: str) -> bool:
    from autograder.engine.references import generate as generate_references

    manifest = generate_references(table, repo / "solution" / part, repo / "reference_data" / part)
    print(f"{part}: reference_data/{part} written ({len(manifest['cases'])} cases)")
    return True


def package(repo: Path, part: str, table: str) -> bool:
    from autograder.engine.package import build_zip

    path = build_zip(repo, part, zip_path(repo, part))
    print(f"{part}: {path.relative_to(repo)} ({path.stat().st_size // 1024} KiB)")
    pack_handout(repo, part)
    return True


def grade_with_zip(zip_file: Path, submission: Path, workdir: Path, timeout: float = 900) -> dict:
    """Grade `submission` exactly as Gradescope would, through the zip's run_autograder."""
    root = workdir / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_file) as archive:
        archive.extractall(root / "source")
    # As Gradescope unpacks a zip: folders and files; links stay links (the grader refuses
    # them), and FIFOs or devices, which would block the copy, are left out.
    shutil.copytree(submission, root / "submission", symlinks=True, ignore=_special_files)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    process = subprocess.Popen(["bash", str(root / "source" / "run_autograder")], env=env,
                               stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)       # the sandbox user's processes die when a grader next takes it
        process.wait()
        raise
    return json.loads((root / "results" / "results.json").read_text())


def _special_files(folder: str, names: list) -> set:
    """Names in `folder` that are neither folders, regular files nor links."""
    kept = (stat.S_ISDIR, stat.S_ISREG, stat.S_ISLNK)
    return {name for name in names if not any(is_kind(os.lstat(os.path.join(folder, name)).st_mode) for is_kind in kept)}


def selfcheck(repo: Path, part: str, table: str) -> bool:
    """The solution must earn every point and the template none, with every case listed."""
    manifest = json.loads((repo / "reference_data" / part / "manifest.json").read_text())
    total, count = manifest["total_points"], len(manifest["cases"])
    ok = True
    for label, folder, want in (("solution", repo / "solution" / part, total),
                                ("template", repo / "student_template" / part, 0.0)):
        with tempfile.TemporaryDirectory() as tmp:
            results = grade_with_zip(zip_path(repo, part), folder, Path(tmp))
        score, listed = results["score"], len(results["tests"])
        good = score == want and listed == count
        ok = ok and good
        print(f"{part} {label}: {score:g}/{total:g} points, {listed}/{count} tests listed"
              f"{'' if good else f'  <-- expected {want:g} points and {count} tests'}")
    return ok


# -- the handout: public tests, collect scripts, the handout zip --------------------------------
# student_template/<part>/tests holds the hand-written public tests (copied from handout/<part>)
# and, generated below under tests/_grader, what they need: copies of a few grader modules, the
# case table without its hidden cases, and the public cases' inputs and expected outputs.
# Nothing of a hidden case ships: not its data, not its definition.
PUBLIC_DIR = Path("tests") / "_grader"
# What the public tests import of the engine (the rest of what they ship is found from these).
PUBLIC_ENGINE = ("engine.grade", "engine.worker", "engine.locate", "engine.reference", "engine.results",
                 "engine.session")
HANDOUT_SKIP = ("__pycache__", ".pytest_cache", ".ipynb_checkpoints")

_PUBLIC_HEADER = """\
# Generated by autograder/build.py from the case table {table}: do not edit.
# Public cases only: the hidden cases are graded on Gradescope and are not part of this copy.
# PART's total_points is the public cases' sum here; the assignment's total is in
# reference/manifest.json.
"""

# Runs in a fresh interpreter: the shipped copies (not the repository's package) build the
# public cases' inputs, and the reference solution computes their expected outputs, with the
# same generator as reference_data/ (engine/references.py), so the bytes are the same. The
# catalogue of known mistakes (it quotes the solution) is loaded from the repository under
# its own name and never written into the handout: only the outputs and messages of the
# mistakes that show on public cases are, as on Gradescope.
_GENERATE_PUBLIC = """
import importlib, importlib.util, sys
from pathlib import Path
references, grader, table, solution, out, mistakes, mistakes_file = sys.argv[1:]
sys.path.insert(0, grader)
import autograder
if Path(autograder.__file__).resolve().parent != Path(grader, "autograder").resolve():
    sys.exit("the copies in " + grader + " are not the ones imported")

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

if mistakes:
    importlib.import_module(mistakes.rsplit(".", 1)[0])
    load(mistakes, mistakes_file)
load("public_references", references).generate(table, Path(solution), Path(out))
"""


def handout_zip_path(repo: Path, part: str) -> Path:
    return repo / "dist" / f"hw4_{part}_handout.zip"


def _is_case(node) -> bool:
    return isinstance(node, ast.Call) and "Case" in (getattr(node.func, "id", None), getattr(node.func, "attr", None))


def _is_hidden(call: ast.Call, origin: str) -> bool:
    """A Case call's hidden= flag, which must be a literal so that the build can read it."""
    for keyword in call.keywords:
        if keyword.arg == "hidden":
            if isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, bool):
                return keyword.value.value
            raise ValueError(f"{origin}:{call.lineno}: hidden= of a Case must be a literal True or False")
        if keyword.arg is None:
            raise ValueError(f"{origin}:{call.lineno}: a Case with **kwargs: hidden= must be written out")
    if len(call.args) > 6:
        raise ValueError(f"{origin}:{call.lineno}: pass hidden= to Case by keyword")
    return False


class _DropHiddenCases(ast.NodeTransformer):
    def __init__(self, origin: str):
        self.origin, self.kept, self.dropped = origin, 0, 0

    def _filter(self, node):
        self.generic_visit(node)
        kept = [element for element in node.elts if not (_is_case(element) and _is_hidden(element, self.origin))]
        self.kept += sum(1 for element in kept if _is_case(element))
        self.dropped += len(node.elts) - len(kept)
        node.elts = kept
        return node

    visit_Tuple = visit_List = _filter


def public_table_source(source: str, table: str, origin: str):
    """(source of the table without its hidden cases, the part's real total_points, Part's
    mistakes= module or "", cases kept, cases dropped).

    Every Case(...) call with hidden=True is removed from the tuple or list that holds it; the
    Part(...) call's total_points becomes the sum of the kept cases' points, so that the table
    still passes the generator's total check. ast.unparse drops the comments.
    """
    tree = ast.parse(source, origin)
    dropper = _DropHiddenCases(origin)
    tree = dropper.visit(tree)
    left = [node for node in ast.walk(tree) if _is_case(node) and _is_hidden(node, origin)]
    if left:
        raise ValueError(f"{origin}:{left[0].lineno}: a hidden Case outside a tuple or list cannot be removed")
    parts = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Part"]
    if len(parts) != 1:
        raise ValueError(f"{origin}: expected exactly one Part(...) call, found {len(parts)}")
    keywords = {keyword.arg: keyword for keyword in parts[0].keywords}
    if "cases" not in keywords or "total_points" not in keywords:
        raise ValueError(f"{origin}: Part(...) must name cases= and total_points= by keyword")
    total = float(ast.literal_eval(keywords["total_points"].value))
    mistakes = ast.literal_eval(keywords["mistakes"].value) if "mistakes" in keywords else None
    cases = ast.unparse(keywords["cases"].value)
    keywords["total_points"].value = ast.parse(f"sum(case.points for case in {cases})", mode="eval").body
    text = _PUBLIC_HEADER.format(table=table) + ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    return text, total, mistakes or "", dropper.kept, dropper.dropped


def write_public_tests(repo: Path, part: str, table: str) -> Path:
    """student_template/<part>/tests/_grader: grader copies, the public table and the public data.

    The grader modules come from this autograder package and the data from the reference
    solution in `repo`, so that it works on a bare copy holding only solution/ and handout/.
    """
    target = repo / "student_template" / part / PUBLIC_DIR
    if target.exists():
        shutil.rmtree(target)
    package_dir = Path(__file__).resolve().parent
    module_path = table.split(".")
    if module_path[0] != package_dir.name:
        raise ValueError(f"{table} is not a module of the {package_dir.name} package")
    from autograder.engine.package import imported_modules
    from autograder.engine.references import runner_modules

    origin = Path(importlib.util.find_spec(table).origin)
    text, total, mistakes, kept, dropped = public_table_source(origin.read_text(), table,
                                                               origin.relative_to(package_dir.parent).as_posix())
    shipped = set(imported_modules(package_dir, PUBLIC_ENGINE)) | set(runner_modules(table))
    modules = [module.split(".", 1)[1].replace(".", "/") + ".py" for module in sorted(shipped)
               if module != table and module.count(".") > 1]
    files = {rel: (package_dir / rel).read_text() for rel in modules}
    files["/".join(module_path[1:]) + ".py"] = text
    for rel, content in sorted(files.items()):
        dest = target / package_dir.name / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(content)
    packages = {target / package_dir.name}
    for rel in files:
        packages.update((target / package_dir.name / rel).parents[:rel.count("/")])
    for folder in sorted(packages):
        if not (folder / "__init__.py").exists():
            (folder / "__init__.py").write_text('"""Copies of autograder modules for the public tests '
                                                '(generated by autograder/build.py)."""\n')
    out = target / "reference"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    subprocess.run([sys.executable, "-B", "-c", _GENERATE_PUBLIC, str(package_dir / "engine" / "references.py"),
                    str(target), table, str(repo / "solution" / part), str(out), mistakes,
                    importlib.util.find_spec(mistakes).origin if mistakes else ""],
                   cwd=target, env=env, check=True)
    manifest_file = out / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    if any(case["hidden"] for case in manifest["cases"]) or len(manifest["cases"]) != kept:
        raise ValueError(f"{part}: the public table does not hold exactly the {kept} public cases")
    manifest["public_points"], manifest["total_points"] = manifest["total_points"], total
    manifest_file.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{part}: student_template/{part}/{PUBLIC_DIR.as_posix()} written "
          f"({kept} public cases, {manifest['public_points']:g} of {total:g} points; {dropped} hidden cases left out)")
    return target


def pack_handout(repo: Path, part: str, destination: Path = None) -> Path:
    """dist/hw4_<part>_handout.zip: student_template/<part> under a folder hw4_<part>/, reproducibly."""
    from autograder.engine.package import FIXED_TIME

    source = repo / "student_template" / part
    destination = destination or handout_zip_path(repo, part)
    destination.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(path for path in source.rglob("*") if path.is_file() and path.suffix != ".pyc"
                   and not set(path.relative_to(source).parts) & set(HANDOUT_SKIP)
                   and not path.name.endswith("_submission.zip"))
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(f"hw4_{part}/{path.relative_to(source).as_posix()}", FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | (0o755 if path.suffix == ".sh" else 0o644)) << 16
            archive.writestr(info, path.read_bytes())
    print(f"{part}: {destination.relative_to(repo) if destination.is_relative_to(repo) else destination} "
          f"({destination.stat().st_size // 1024} KiB, {len(files)} files)")
    return destination
