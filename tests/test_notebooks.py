"""The solution notebooks run end to end in smoke mode, and their MNIST loader reads IDX files.

The notebook tests (marked `notebook`, select them with `-m notebook` or leave them out with
`-m "not notebook"`) check each solution notebook's run (tests/notebooks.py: once per session, in a
handout copy, shared with the PDF tests): every cell ran, the figures were drawn, the kernel is this
interpreter (the time is printed, not asserted: timing is for benchmarks). The other
tests are quick: the committed notebooks are clean and strippable, and `data.py` reads IDX files,
falls back to scikit-learn's digits without them, and batches reproducibly.
"""
import gzip
import importlib.util
import json
import os
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import by_notebook
from notebooks import NOTEBOOKS, REPO, SOLUTION

SMOKE_BUDGET_S = 60      # a smoke run's expected time, kernel start included (measured: 7-34 s); bounds the timeout
DATA_FILES = [SOLUTION / "part1" / "gan" / "data.py", SOLUTION / "part2" / "diffusion" / "data.py"]


def _load_data_module(path):
    spec = importlib.util.spec_from_file_location(f"hw4_data_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the committed notebooks


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_committed_notebook_is_clean_and_strippable(name):
    """Outputs cleared, kernel python3, solution regions that the handout's stripper accepts."""
    nbformat = pytest.importorskip("nbformat")
    from autograder.engine.strip import strip_notebook

    path, package, _ = NOTEBOOKS[name]
    text = path.read_text()
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs not cleared"
    sources = "\n".join(cell.source for cell in code)
    assert f"from {package}." in sources
    assert sources.count("# BEGIN SOLUTION") == sources.count("# END SOLUTION") > 0
    stripped = nbformat.reads(strip_notebook(text, path.name), as_version=4)
    for cell in stripped.cells:
        assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source
        if cell.cell_type == "code":
            source = re.sub(r"(?m)^(\s*)%", r"\1#", cell.source)  # IPython magics as comments
            compile(source, f"{path.name}[{cell.id}]", "exec")
    assert "NotImplementedError" in "\n".join(cell.source for cell in stripped.cells)


# ---------------------------------------------------------------- running them


@pytest.mark.notebook
@pytest.mark.timeout(5 * SMOKE_BUDGET_S)
@pytest.mark.parametrize("name", by_notebook(NOTEBOOKS))
def test_solution_notebook_runs_in_smoke_mode(name, executed_notebook):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    run = executed_notebook(name)
    print(f"{run.notebook.name}: executed in smoke mode in {run.seconds:.1f} s")
    nb = json.loads(run.notebook.read_text())
    figures, texts = 0, []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"{run.notebook.name}: {output['ename']}: {output['evalue']}"
            if output["output_type"] == "stream":
                texts.append("".join(output["text"]))
            elif "data" in output:
                figures += "image/png" in output["data"]
                texts.append("".join(output["data"].get("text/plain", "")))
    text = "\n".join(texts)
    assert "Traceback" not in text, f"{run.notebook.name}: a cell printed a traceback"
    assert figures >= NOTEBOOKS[name][2], f"{run.notebook.name}: {figures} figures, expected at least {NOTEBOOKS[name][2]}"
    assert run.kernel_prefix == sys.prefix, "the python3 kernel is not this interpreter's environment"
    assert "(smoke mode)" in text, "HW4_SMOKE did not reach the kernel"
    assert run.files_after == run.files_before, f"{run.notebook.name} wrote files next to itself"


# ---------------------------------------------------------------- data.py


def _write_idx(path, array):
    """An IDX file (gzipped if the name ends in .gz) holding a uint8 array."""
    array = np.asarray(array, dtype=np.uint8)
    payload = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)


def _tiny_mnist(count=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=count, dtype=np.uint8)


def test_the_two_data_modules_are_identical():
    assert DATA_FILES[0].read_bytes() == DATA_FILES[1].read_bytes()


# Each distinct file once: part 2's data.py is a link to part 1's in the solution.
DISTINCT_DATA_FILES = sorted({path.resolve(): path for path in DATA_FILES}.values())


@pytest.fixture(params=[str(p.relative_to(SOLUTION)) for p in DISTINCT_DATA_FILES])
def data(request):
    return _load_data_module(SOLUTION / request.param)


@pytest.mark.parametrize("layout", ["root", "root-gz", "MNIST/raw", "MNIST/raw-gz"])
def test_load_mnist_reads_idx_files(data, tmp_path, capsys, layout):
    folder = tmp_path / "MNIST" / "raw" if layout.startswith("MNIST") else tmp_path
    suffix = ".gz" if layout.endswith("gz") else ""
    pixels, targets = _tiny_mnist()
    _write_idx(folder / f"train-images-idx3-ubyte{suffix}", pixels)
    _write_idx(folder / f"train-labels-idx1-ubyte{suffix}", targets)

    images, labels = data.load_mnist(str(tmp_path), train=True)

    assert images.dtype == torch.float32 and images.shape == (5, 1, 28, 28)
    assert labels.dtype == torch.int64 and labels.shape == (5,)
    assert torch.equal(images, torch.from_numpy(pixels.astype(np.float32) / 255)[:, None])
    assert torch.equal(labels, torch.from_numpy(targets.astype(np.int64)))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "MNIST train: 5 images" in out


def test_load_mnist_test_split_uses_t10k_files(data, tmp_path):
    pixels, targets = _tiny_mnist(3, seed=1)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", pixels)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", targets)
    images, labels = data.load_mnist(tmp_path, train=False, verbose=False)
    assert images.shape == (3, 1, 28, 28) and labels.tolist() == targets.tolist()


def test_read_idx_other_types_and_bad_files(data, tmp_path):
    values = (np.arange(6).reshape(2, 3) / 4).astype(">f4")
    path = tmp_path / "floats-idx2"
    path.write_bytes(bytes([0, 0, 0x0D, 2]) + struct.pack(">2I", 2, 3) + values.tobytes())
    out = data.read_idx(path)
    assert out.dtype == np.float32 and out.shape == (2, 3) and np.array_equal(out, values)

    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match="magic"):
        data.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 10) + b"\x00" * 9)
    with pytest.raises(ValueError, match="expected 10"):
        data.read_idx(short)


def test_load_mnist_falls_back_to_sklearn_digits(data, tmp_path, capsys):
    pytest.importorskip("sklearn")
    images, labels = data.load_mnist(tmp_path / "nothing-here", train=True)
    test_images, test_labels = data.load_mnist(tmp_path / "nothing-here", train=False)

    assert images.dtype == torch.float32 and images.shape[1:] == (1, 28, 28)
    assert len(images) + len(test_images) == 1797 and len(images) == len(labels) == 1437
    assert labels.dtype == torch.int64 and set(labels.tolist()) == set(range(10))
    assert images.min() >= 0 and images.max() <= 1 and images.max() == 1
    assert images[:, :, :2].abs().max() == 0 and images[:, :, :, -2:].abs().max() == 0  # a dark border, as in MNIST
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("digits" in line and "download_mnist" in line for line in lines)


def test_download_mnist_fetches_from_a_mirror(data, tmp_path, monkeypatch):
    """The download path, offline: a file:// mirror stands in for the web (the first one is broken)."""
    mirror = tmp_path / "mirror"
    pixels, targets = _tiny_mnist(4, seed=2)
    _write_idx(mirror / "train-images-idx3-ubyte.gz", pixels)
    _write_idx(mirror / "train-labels-idx1-ubyte.gz", targets)
    monkeypatch.setattr(data, "MIRRORS", ((tmp_path / "missing").as_uri() + "/", mirror.as_uri() + "/"))

    images, labels = data.load_mnist(tmp_path / "data", train=True, download=True)

    assert images.shape == (4, 1, 28, 28) and labels.tolist() == targets.tolist()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    with pytest.raises(RuntimeError, match="t10k-images"):
        data.download_mnist(tmp_path / "data", train=False)


def test_make_loader_batches_reproducibly(data):
    images = torch.arange(10, dtype=torch.float32).reshape(10, 1, 1, 1)
    labels = torch.arange(10)
    first = [(x.flatten().tolist(), y.tolist()) for x, y in data.make_loader(images, labels, batch_size=4, seed=3)]
    again = [(x.flatten().tolist(), y.tolist()) for x, y in data.make_loader(images, labels, batch_size=4, seed=3)]
    assert first == again and len(first) == 2 and all(len(y) == 4 for _, y in first)
    assert all([float(v) for v in y] == x for x, y in first)  # images and labels stay paired
    other = [y.tolist() for _, y in data.make_loader(images, labels, batch_size=4, seed=4)]
    assert other != [y for _, y in first]
    ordered = [y.tolist() for _, y in data.make_loader(images, labels, batch_size=4, shuffle=False, drop_last=False)]
    assert ordered == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(data.make_loader(images, batch_size=3)) == 3
