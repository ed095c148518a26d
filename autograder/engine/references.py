"""Generate a part's reference data from the reference solution.

For every case of the table: build its inputs from the case's seed, run its call
on the reference solution, and save inputs and expected outputs as safetensors.
The manifest (JSON) carries everything the trusted grader needs to know about the
cases, so that it never has to import the table (or torch).
"""
import hashlib
import importlib
import json
import shutil
import sys
from pathlib import Path

MANIFEST = "manifest.json"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save(tensors: dict, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({name: value.detach().contiguous().clone() for name, value in tensors.items()}, str(path))


def case_entry(part, case, visibility: str, outputs: dict, inputs_file: Path, expected_file: Path) -> dict:
    """What the trusted grader knows of a case (everything but the tensors)."""
    tolerances = {"default": [case.tolerance.atol, case.tolerance.rtol]}
    tolerances.update({name: [tol.atol, tol.rtol] for name, tol in case.tolerances.items()})
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


def generate(table_name: str, solution_dir: Path, out_dir: Path) -> dict:
    """Regenerate `out_dir` (inputs/, expected/, manifest.json) for the table's part."""
    import torch

    torch.set_num_threads(1)    # one thread: the same reduction order on every machine
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
        entries = []
        for case in part.cases:
            generator = torch.Generator().manual_seed(case.seed)
            inputs = case.build(generator)
            target = getattr(importlib.import_module(case.module), case.attribute)
            torch.manual_seed(case.seed)
            outputs = case.call(target, {name: value.clone() for name, value in inputs.items()})
            inputs_file = out_dir / "inputs" / f"{case.id}.safetensors"
            expected_file = out_dir / "expected" / f"{case.id}.safetensors"
            _save(inputs, inputs_file)
            _save(outputs, expected_file)
            visibility = part.hidden_visibility if case.hidden else "visible"
            entries.append(case_entry(part, case, visibility, outputs, inputs_file, expected_file))
        manifest = {
            "part": part.key,
            "title": part.title,
            "package": part.package,
            "files": list(part.files),
            "total_points": part.total_points,
            "deadline": part.deadline,
            "table": table_name,
            "torch_version": torch.__version__,
            "cases": entries,
        }
        (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        return manifest
    finally:
        sys.path.remove(str(solution_dir))
