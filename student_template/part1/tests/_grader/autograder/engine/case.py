"""How a graded case and a part are declared.

Imported by the trusted generator and by the sandboxed worker; it imports nothing
heavy, so that the trusted grader can read a part's settings without torch.
"""
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


class CaseError(Exception):
    """A submission broke the contract in a way the case's adapter can name.

    Its message is shown to the student as it is, so it must not reveal hidden data.
    """


@dataclass(frozen=True)
class Tolerance:
    """Element-wise |actual - expected| <= atol + rtol * |expected|."""

    atol: float
    rtol: float


@dataclass(frozen=True)
class Case:
    """One graded case, declared once in a case table.

    build(generator) makes the inputs (a dict of tensors) from a seeded generator; it
    runs only when references are generated. call(target, inputs) runs the graded
    object (function or class) on those inputs and returns a dict of output tensors;
    it runs in the generator with the reference solution and in the sandbox with
    the student's code, so both are graded through the same code.
    """

    name: str                      # "q_sample: mixed timesteps"; the part before ':' is the graded name
    target: str                    # "diffusion.ddpm.q_sample": module path, then attribute
    build: Callable
    call: Callable
    points: float
    seed: int
    hidden: bool = False
    tolerance: Tolerance = Tolerance(atol=1e-6, rtol=1e-5)
    tolerances: Dict[str, Tolerance] = field(default_factory=dict)  # per output, overrides `tolerance`
    timeout: float = 1.0           # seconds for the call, and for its file's import (the reference needs milliseconds)
    forbidden: Tuple[str, ...] = ()  # dotted names of library functions the graded code must not call
    note: str = ""                 # why this case exists, for TAs reading the table

    @property
    def id(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    @property
    def function(self) -> str:
        return self.name.split(":", 1)[0].strip()

    @property
    def module(self) -> str:
        return self.target.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.target.rsplit(".", 1)[1]

    def tolerance_for(self, output: str) -> Tolerance:
        return self.tolerances.get(output, self.tolerance)


@dataclass(frozen=True)
class Package:
    """A third-party package: what pip installs, the modules it provides, and why it is there."""

    name: str                       # the distribution's name: "matplotlib"
    requirement: str                # what Gradescope's image installs: "matplotlib>=3.7,<4"
    why: str                        # for the README: why graded code may use it (or the grader needs it)
    modules: Tuple[str, ...] = ()   # top-level modules it provides, when not just its name
    for_students: str = ""          # the handout's requirement, when looser than Gradescope's pin

    @property
    def module_names(self) -> Tuple[str, ...]:
        return self.modules or (self.name,)


@dataclass(frozen=True)
class Environment:
    """The one declaration of the packages around graded code. Graded files may import the
    standard library and `graded`; the grader needs `grader` besides. setup.sh installs both
    (torch from `torch_index`), the handout's requirements.txt installs both, and the worker
    and the public tests refuse any other import."""

    graded: Tuple[Package, ...]
    grader: Tuple[Package, ...]
    torch_index: str = "https://download.pytorch.org/whl/cpu"

    def allowed_modules(self) -> List[str]:
        return sorted(module for package in self.graded for module in package.module_names)

    def gradescope_requirements(self) -> List[str]:
        return [package.requirement for package in self.graded + self.grader]

    def student_requirements(self) -> List[str]:
        return [package.for_students or package.requirement for package in self.graded + self.grader]


@dataclass(frozen=True)
class Part:
    """One Gradescope assignment: a student package, its graded files and its cases."""

    key: str                       # "part2": folder name under solution/, reference_data/, ...
    title: str                     # "HW4: Part 2 Diffusion Models"
    assignment: str                # "hw4": names the part's zips and handout with `key` (hw4_part2_...)
    package: str                   # "diffusion"
    files: Tuple[str, ...]         # graded files, relative to the submission root
    total_points: float
    cases: Tuple[Case, ...]
    hidden_visibility: str = "after_due_date"   # what Gradescope shows of hidden cases
    deadline: float = 420.0        # seconds for all cases together, well inside Gradescope's 10 minutes
    notebook: Optional[str] = None
    mistakes: Optional[str] = None  # module of known mistakes (MISTAKES), used only when generating references
    warmup: Optional[Callable] = None  # run once in the worker before any case: pays lazy imports up front
    environment: Optional[Environment] = None   # what graded code may import; None: the standard library only

    @property
    def slug(self) -> str:
        return f"{self.assignment}_{self.key}"

    def file_of(self, case: Case) -> str:
        return case.module.replace(".", "/") + ".py"
