"""The mutants of the solution: one small edit each, inside a solution region.

A solution region is the code between `# BEGIN SOLUTION` and `# END SOLUTION` of
solution/partN/<package>/*.py: what students write. Everything else of the file is kept,
so a mutant is a plausible student file.
"""
import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from autograder.tools.parts import REPO
from autograder.tools.mutation.sites import STATEMENT_OPERATORS, Sites
from autograder.tools.mutation.syntax import code

BEGIN = re.compile(r"^[ \t]*# BEGIN SOLUTION\b")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")


@dataclass
class Mutant:
    part: str
    file: str            # as graded: "diffusion/ddpm.py"
    function: str        # the top-level def or class whose solution region was edited
    line: int
    operator: str
    description: str
    source: str = field(repr=False)
    independent: bool = False    # a swap of two statements that cannot affect each other

    @property
    def key(self) -> str:
        return f"{self.part}:{self.file}:{self.function}:{self.description}"

    @property
    def where(self) -> str:
        return f"{self.part}/{self.file}:{self.line}"


def solution_regions(text: str) -> List[Tuple[int, int]]:
    """(first, last) 1-based line numbers of the code inside each solution region."""
    regions, start = [], None
    for number, line in enumerate(text.splitlines(), 1):
        if BEGIN.match(line):
            start = number
        elif END.match(line) and start is not None:
            regions.append((start + 1, number - 1))
            start = None
    return regions


def mutants_of_file(part: str, rel: str, text: str) -> List[Mutant]:
    """Every distinct mutant of one solution file, in a stable order."""
    tree = ast.parse(text)
    regions = solution_regions(text)
    if not regions:
        return []
    sites = Sites(tree, regions)
    sites.collect()
    seen = {ast.unparse(tree)}
    mutants: List[Mutant] = []
    parent_index = {sites.index[id(child)]: sites.index[id(parent)] for child, parent in sites.parents.items()}
    for site in sites.sites:
        # A fresh parse walks to the same nodes in the same order (and is faster than deepcopy).
        clone_nodes = list(ast.walk(ast.parse(text)))
        node = clone_nodes[site.node_index]
        parents = {node: clone_nodes[parent_index[site.node_index]]} if site.node_index in parent_index else {}
        original = sites.nodes[site.node_index]
        owner = sites.owner.get(id(original))
        if owner is None:     # a block of the module itself: name the owner by the first statement
            owner = sites.owner.get(id(getattr(original, "body", [None])[0]))
        description = site.edit(node, parents)
        line = getattr(original, "lineno", 0)
        if site.operator in STATEMENT_OPERATORS:
            line = _statement_line(description, original)
        clone = clone_nodes[0]
        ast.fix_missing_locations(clone)
        try:
            source = ast.unparse(clone)
            compile(source, rel, "exec")
        except (SyntaxError, ValueError, TypeError):
            continue
        if source in seen:
            continue
        seen.add(source)
        mutants.append(Mutant(part, rel, owner.name if owner is not None else "<module>", line, site.operator,
                              description, source, site.independent_swap))
    counts: Dict[Tuple[str, str], int] = {}
    for mutant in mutants:       # the same text twice in a function: number the later ones
        name = (mutant.function, mutant.description)
        counts[name] = counts.get(name, 0) + 1
        if counts[name] > 1:
            mutant.description += f" (#{counts[name]})"
    return mutants


def _statement_line(description: str, holder: ast.AST) -> int:
    """The line of the statement a statement edit names (the edit's node is the block's holder)."""
    for name in ("body", "orelse"):
        for stmt in getattr(holder, name, []) or []:
            if isinstance(stmt, ast.stmt) and code(stmt) in description:
                return stmt.lineno
    return getattr(holder, "lineno", 0)


def graded_files(root: Path, part: str) -> List[str]:
    return json.loads((root / "reference_data" / part / "manifest.json").read_text())["files"]


def all_mutants(parts: Sequence[str], root: Path = REPO) -> List[Mutant]:
    """The mutants of every graded file of `parts`, from root/solution/partN."""
    mutants = []
    for part in parts:
        for rel in graded_files(root, part):
            mutants.extend(mutants_of_file(part, rel, (root / "solution" / part / rel).read_text()))
    return mutants


def solution_digest(parts: Sequence[str], root: Path = REPO) -> str:
    """A fingerprint of the graded solution files: the mutants are a function of it."""
    digest = hashlib.sha256()
    for part in sorted(parts):
        for rel in sorted(graded_files(root, part)):
            digest.update(f"{part}/{rel}\n".encode() + (root / "solution" / part / rel).read_bytes())
    return digest.hexdigest()[:16]
