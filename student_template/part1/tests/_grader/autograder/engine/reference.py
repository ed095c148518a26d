"""A part's reference data as the trusted side reads it: the manifest, the expected outputs and
the outputs of known mistakes, each checked against the manifest's sha256 before use.

Plain numpy (safetensors.numpy): reading the references never imports torch. numpy is imported
only when the data is loaded, so that reading the manifest alone is instant (the grader starts
its workers first, then loads the data while they import torch).
"""
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List

if TYPE_CHECKING:
    import numpy as np

MANIFEST = "manifest.json"


class ReferenceDataError(Exception):
    """The reference data is missing or altered: a problem of the autograder, not the student."""


@dataclass(frozen=True)
class KnownMistake:
    name: str
    misconception: str
    outputs: Dict[str, "np.ndarray"]


@dataclass
class Reference:
    manifest: dict
    expected: Dict[str, Dict[str, "np.ndarray"]]    # case id -> output name -> array
    mistakes: Dict[str, List[KnownMistake]]         # case id -> known mistakes seen on it
    folder: Path

    @property
    def cases(self) -> List[dict]:
        return self.manifest["cases"]

    def inputs_file(self, case: dict) -> Path:
        return self.folder / case["inputs"]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verified(folder: Path, rel: str, digest: str) -> bytes:
    try:
        data = (folder / rel).read_bytes()
    except OSError as error:
        raise ReferenceDataError(f"{rel} cannot be read ({error})") from error
    if hashlib.sha256(data).hexdigest() != digest:
        raise ReferenceDataError(f"{rel} does not match the manifest's sha256")
    return data


def read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise ReferenceDataError(f"{folder / MANIFEST} cannot be read ({error})") from error


def load_reference(folder: Path, manifest: dict = None) -> Reference:
    """The manifest and every expected output, verified against the manifest's sha256."""
    from safetensors.numpy import load as load_safetensors

    manifest = manifest if manifest is not None else read_manifest(folder)
    expected, mistakes = {}, {}
    for case in manifest["cases"]:
        _verified(folder, case["inputs"], case["inputs_sha256"])
        arrays = load_safetensors(_verified(folder, case["expected"], case["expected_sha256"]))
        expected[case["id"]] = {name: arrays[name] for name in case["outputs"]}   # the call's own order
        mistakes[case["id"]] = [KnownMistake(m["name"], m["message"],
                                             load_safetensors(_verified(folder, m["file"], m["sha256"])))
                                for m in case.get("mistakes", [])]
    return Reference(manifest, expected, mistakes, folder)
