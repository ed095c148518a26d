"""--cache: earlier gradings, reused while nothing they depend on has changed.

A grading is keyed by the mutant's file and source and by its part's digest (the manifest
of the reference data, the engine, the tables and the grading code: snapshot.reference_digest),
so that a run after editing EQUIVALENT, or the report, grades nothing again.
"""
import hashlib
import json
import os
from pathlib import Path
from typing import Dict, Optional

from autograder.tools.mutation.grading import Grading
from autograder.tools.mutation.mutants import Mutant

SAVE_EVERY = 20     # new gradings between writes: an interrupted run keeps most of its work


class ResultCache:
    def __init__(self, path: Optional[Path], digests: Dict[str, str]):
        self.path, self.digests = path, digests
        self.entries: dict = json.loads(path.read_text()) if path is not None and path.exists() else {}
        self.unsaved = 0

    def key(self, mutant: Mutant) -> str:
        text = f"{self.digests[mutant.part]}\n{mutant.file}\n{mutant.source}"
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, mutant: Mutant) -> Optional[Grading]:
        entry = self.entries.get(self.key(mutant))
        return None if entry is None else Grading.from_json(entry)

    def put(self, mutant: Mutant, grading: Grading) -> None:
        if self.path is None or grading.error:
            return            # a grading that did not run is tried again next time
        self.entries[self.key(mutant)] = grading.to_json()
        self.unsaved += 1
        if self.unsaved >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        if self.path is None or not self.unsaved:
            return
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(json.dumps(self.entries))
        os.replace(temporary, self.path)
        self.unsaved = 0
