"""Generate a part's reference data from the reference solution.

For every case of the table: build its inputs from the case's seed, run its call
on the reference solution, and save inputs and expected outputs as safetensors.
The manifest (JSON) carries everything the trusted grader needs to know about the
cases, so that it never has to import the table (or torch).
"""
import ast
import importlib
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional, Tuple

from autograder.engine.reference import MANIFEST, sha256_of

# A regenerated output that agrees with the one already in place to within this fraction of its
# case's tolerance keeps the bytes in place: float32 kernels round differently from one CPU to
# another, and the reference data must not change with the machine that builds it. Measured in
# autograder/hw4/TOLERANCES.md ("Reference data built on another CPU"): expected outputs moved by at
# most 0.027 of their tolerance.
AGREEMENT = 0.1
# A known mistake's outputs only name a misconception: the grader recognises a submission's output
# within the case's whole tolerance of them. They may move further (sin and cos of arguments near
# 1e3: 0.23 of the tolerance), and where the mistake rounds a value just below 0 and takes its square
# root, the NaNs fall elsewhere on another CPU: they settle within half the tolerance where both are
# finite.
MISTAKE_AGREEMENT = 0.5
# Inputs come from the seeded generators, the same bytes anywhere, except those the solution computes
# (part 2's schedules: its square roots moved by one unit in the last place): a floating-point input
# settles within this many units in the last place of its dtype, relative to its value.
INPUT_ULPS = 4


class Prior:
    """The reference data in place before a regeneration, read before it is replaced (it may be
    the folder being regenerated). `kept` counts the files whose bytes it kept."""

    def __init__(self, folder: Optional[Path]):
        self.files = {}
        if folder is not None and folder.is_dir():
            self.files = {path.relative_to(folder).as_posix(): path.read_bytes()
                          for path in folder.rglob("*.safetensors")}
        self.kept = 0

    def settle(self, rel: str, fresh: bytes, tolerances: dict, agreement: float = AGREEMENT,
               non_finite_may_move: bool = False) -> bytes:
        """The bytes to write at `rel`: those in place when they hold the same tensors as `fresh` to
        within `agreement` of `tolerances` (the grader's comparison: names, shapes, dtypes and, unless
        `non_finite_may_move`, the places of non-finite values must match), else `fresh`."""
        old = self.files.get(rel)
        if old is None or old == fresh:
            return fresh
        from safetensors.numpy import load

        from autograder.engine.compare import compare_outputs

        scaled = {name: (atol * agreement, rtol * agreement) for name, (atol, rtol) in tolerances.items()}
        try:
            in_place, made = load(old), load(fresh)
            if non_finite_may_move:
                in_place, made = _finite_where_both(in_place, made)
            agrees = compare_outputs(in_place, made, scaled, hidden=True).passed
        except Exception:  # noqa: BLE001 - unreadable data in place is replaced
            agrees = False
        if not agrees:
            return fresh
        self.kept += 1
        return old


def _finite_where_both(first: dict, second: dict):
    """Both sets of arrays with 0 wherever either holds a non-finite value (same names and shapes;
    anything else is left for the comparison to reject)."""
    import numpy as np

    first, second = dict(first), dict(second)
    for name in first.keys() & second.keys():
        a, b = first[name], second[name]
        if a.shape == b.shape and a.dtype == b.dtype and a.dtype.kind in "fc":
            either = ~(np.isfinite(a) & np.isfinite(b))
            first[name], second[name] = np.where(either, 0, a), np.where(either, 0, b)
    return first, second


def _save(tensors: dict, out_dir: Path, rel: str, prior: Optional[Prior] = None, tolerances: Optional[dict] = None,
          agreement: float = AGREEMENT, non_finite_may_move: bool = False) -> Tuple[Path, bytes]:
    """Write `tensors` at `rel` (or the bytes in place, where `prior` settles them): the path and
    the bytes written."""
    from safetensors.torch import save

    data = save({name: value.detach().contiguous().clone() for name, value in tensors.items()})
    if prior is not None:
        data = prior.settle(rel, data, tolerances, agreement, non_finite_may_move)
    path = out_dir / rel
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path, data


def input_tolerances(inputs: dict) -> dict:
    """INPUT_ULPS of each floating-point input's dtype, relative; anything else exactly."""
    import torch

    return {"default": [0.0, 0.0], **{name: [0.0, INPUT_ULPS * torch.finfo(value.dtype).eps]
                                       for name, value in inputs.items() if value.is_floating_point()}}


def _save_inputs(case, inputs: dict, out_dir: Path, prior: Optional[Prior]) -> Tuple[Path, dict]:
    """Write a case's inputs, settled; the path and the tensors written, on which the reference
    solution then runs, so that the expected outputs are those of the inputs stored."""
    from safetensors.torch import load

    path, data = _save(inputs, out_dir, f"inputs/{case.id}.safetensors", prior, input_tolerances(inputs), 1.0)
    return path, load(data)


def tolerances_of(case) -> dict:
    """{"default": [atol, rtol], output name: [atol, rtol], ...}, as the manifest holds them."""
    tolerances = {"default": [case.tolerance.atol, case.tolerance.rtol]}
    tolerances.update({name: [tol.atol, tol.rtol] for name, tol in case.tolerances.items()})
    return tolerances


def case_entry(part, case, visibility: str, outputs: dict, inputs_file: Path, expected_file: Path) -> dict:
    """What the trusted grader knows of a case (everything but the tensors)."""
    tolerances = tolerances_of(case)
    return {
        "id": case.id,
        "name": case.name,
        "function": case.function,
        "target": case.target,
        "file": part.file_of(case),
        "points": case.points,
        "hidden": case.hidden,
        "visibility": visibility,
        "timeout": case.timeout,
        "tolerances": tolerances,
        "outputs": {name: {"dtype": str(value.dtype).replace("torch.", ""), "shape": list(value.shape)}
                    for name, value in outputs.items()},
        "inputs": f"inputs/{inputs_file.name}",
        "inputs_sha256": sha256_of(inputs_file),
        "expected": f"expected/{expected_file.name}",
        "expected_sha256": sha256_of(expected_file),
    }


def runner_modules(table_name: str) -> list:
    """The modules of the table's own package that the worker needs: the table and what it
    imports from that package, found statically (so that nothing else, such as the mistakes
    catalogue that quotes the solution, is ever copied next to student code)."""
    package = table_name.rsplit(".", 1)[0]
    needed, todo = [], [table_name]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.append(name)
        tree = ast.parse(Path(importlib.util.find_spec(name).origin).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package + "."):
                todo.append(node.module)
    return sorted(needed)


def _purge(package: str) -> None:
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


def _outputs_equal(a: dict, b: dict) -> bool:
    import torch
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)


def generate_mistakes(part, solution_dir: Path, out_dir: Path, inputs: dict, expected: dict,
                      prior: Optional[Prior] = None) -> dict:
    """Outputs of every known mistake on the cases it breaks: {case id: [manifest entries]}.

    Each mistake is applied to a copy of the solution, imported afresh, and run through
    the cases of the functions it breaks; outputs equal to the reference are not kept.
    """
    import torch

    mistakes = importlib.import_module(part.mistakes).MISTAKES if part.mistakes else ()
    found = {}
    for mistake in (m for m in mistakes if m.part == part.key):
        cases = [c for c in part.cases if c.function in mistake.loses and part.file_of(c) == mistake.file]
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(solution_dir / part.package, Path(tmp) / part.package,
                            ignore=shutil.ignore_patterns("__pycache__"))
            for rel, text in importlib.import_module(part.mistakes).apply(mistake, solution_dir.parent).items():
                (Path(tmp) / rel).write_text(text)
            _purge(part.package)
            sys.path.insert(0, tmp)
            try:
                for case in cases:
                    target = getattr(importlib.import_module(case.module), case.attribute)
                    torch.manual_seed(case.seed)
                    try:
                        outputs = case.call(target, {k: v.clone() for k, v in inputs[case.id].items()})
                    except Exception:  # noqa: BLE001 - a mistake that raises leaves no outputs to recognise
                        continue
                    if _outputs_equal(outputs, expected[case.id]):
                        continue
                    path, _ = _save(outputs, out_dir, f"mistakes/{case.id}--{mistake.name}.safetensors", prior,
                                    tolerances_of(case), MISTAKE_AGREEMENT, non_finite_may_move=True)
                    found.setdefault(case.id, []).append({
                        "name": mistake.name, "file": path.relative_to(out_dir).as_posix(),
                        "sha256": sha256_of(path), "message": mistake.misconception})
            finally:
                sys.path.remove(tmp)
                _purge(part.package)
    return found


def generate(table_name: str, solution_dir: Path, out_dir: Path, prior: Optional[Prior] = None) -> dict:
    """Regenerate `out_dir` (inputs/, expected/, mistakes/, manifest.json) for the table's part;
    where `prior` holds an output that agrees with the new one, its bytes are kept."""
    import torch

    torch.set_num_threads(1)    # one thread: the same reduction order on every run (another CPU may still
                                # round differently: the prior's bytes stay where they agree)
    sys.path.insert(0, str(solution_dir))
    try:
        table = importlib.import_module(table_name)
        part = table.PART
        if sum(case.points for case in part.cases) != part.total_points:
            raise ValueError(f"{part.key}: case points sum to {sum(c.points for c in part.cases)}, "
                             f"not {part.total_points}")
        ids = [case.id for case in part.cases]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{part.key}: two cases have the same name")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        (out_dir / "inputs").mkdir(parents=True)
        (out_dir / "expected").mkdir()
        entries, all_inputs, all_expected = [], {}, {}
        for case in part.cases:
            generator = torch.Generator().manual_seed(case.seed)
            inputs_file, inputs = _save_inputs(case, case.build(generator), out_dir, prior)
            target = getattr(importlib.import_module(case.module), case.attribute)
            torch.manual_seed(case.seed)
            outputs = case.call(target, {name: value.clone() for name, value in inputs.items()})
            expected_file, _ = _save(outputs, out_dir, f"expected/{case.id}.safetensors", prior, tolerances_of(case))
            all_inputs[case.id], all_expected[case.id] = inputs, outputs
            visibility = part.hidden_visibility if case.hidden else "visible"
            entries.append(case_entry(part, case, visibility, outputs, inputs_file, expected_file))
        mistakes = generate_mistakes(part, solution_dir, out_dir, all_inputs, all_expected, prior)
        for entry in entries:
            entry["mistakes"] = mistakes.get(entry["id"], [])
        manifest = {
            "part": part.key,
            "slug": part.slug,
            "title": part.title,
            "package": part.package,
            "files": list(part.files),
            "total_points": part.total_points,
            "deadline": part.deadline,
            "table": table_name,
            "runner_modules": runner_modules(table_name),
            "allowed_imports": part.environment.allowed_modules() if part.environment else [],
            "requirements": part.environment.gradescope_requirements() if part.environment else [],
            "torch_index": part.environment.torch_index if part.environment else None,
            "torch_version": torch.__version__,
            "cases": entries,
        }
        (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        return manifest
    finally:
        sys.path.remove(str(solution_dir))
