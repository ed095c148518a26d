"""Which modules graded code may import, enforced wherever graded code runs.

A graded file may import the Python standard library, the third-party packages its part
allows (declared once, in the part's environment), and its own package. Anything else
fails at import time with one message that names the module and the allowed set, the
same in the students' public tests as on Gradescope: a file that imports scipy cannot
pass locally and then get 0 on Gradescope because scipy is not installed there.

This is a fidelity check, not a security boundary: it catches the honest `import tqdm`
of a package the grader does not install, not a determined attempt to get around it.
"""
import ast
import builtins
import importlib
import importlib.abc
import sys
from typing import Iterable, List, Optional, Set

_MACHINERY = {importlib.__file__, __file__}        # frames of the import machinery itself
_CODE_STRINGS = ("<string>", "<stdin>")               # exec() and friends: treated as graded code


def imported_names(source: str) -> List[str]:
    """Absolute module names that `source` imports anywhere (not relative ones), in order."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    names: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return list(dict.fromkeys(names))


def stdlib_names() -> Set[str]:
    return set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)


def describe_allowed(allowed: Iterable[str], package: str) -> str:
    return (f"the Python standard library, {', '.join(sorted(allowed))} and the graded files of {package}/")


def not_allowed_message(module: str, importer: str, allowed: Iterable[str], package: str) -> str:
    top = module.partition(".")[0]
    shown = module if top == package else top
    return (f"{importer} imports {shown}, which the grader does not provide: graded files may import only "
            f"{describe_allowed(allowed, package)}. Code from other files you wrote is not used "
            "(copy what you need into the graded file), and other packages are not installed on Gradescope.")


class ImportNotAllowed(ModuleNotFoundError):
    """A graded file imported a module outside the allowed set."""


class ImportGuard(importlib.abc.MetaPathFinder):
    """Refuses imports made by graded code of modules outside the allowed set.

    Installed twice over: as a wrapper of builtins.__import__ (every `import` statement,
    including modules another package already imported), and on sys.meta_path (dynamic
    imports through importlib of modules not imported yet). Imports made by allowed
    packages themselves (torch importing its own dependencies) are never refused.
    """

    def __init__(self, allowed: Iterable[str], package: str, student_root: str, graded_modules: Iterable[str] = ()):
        """`graded_modules`: the package's modules that are graded files ("gan.losses"); other
        modules of the package are refused too (they are not copied into the sandbox)."""
        self.allowed_packages = sorted(set(allowed))
        self.package = package
        self.student_root = student_root
        self.graded_modules = set(graded_modules)
        self.allowed = set(self.allowed_packages) | stdlib_names() | {package}
        self._original_import = None

    # -- who is importing ------------------------------------------------------------
    def _is_student_file(self, filename: Optional[str]) -> bool:
        return bool(filename) and (filename.startswith(self.student_root) or filename in _CODE_STRINGS)

    def _importer_from_stack(self) -> Optional[str]:
        """The file of the nearest frame outside the import machinery, if it is graded code."""
        frame = sys._getframe(1)
        while frame is not None:
            filename = frame.f_code.co_filename
            if not (filename.startswith("<frozen importlib") or filename in _MACHINERY):
                return filename if self._is_student_file(filename) else None
            frame = frame.f_back
        return None

    def _refuse(self, name: str, importer: str) -> None:
        shown = importer[len(self.student_root):] if importer.startswith(self.student_root) else "graded code"
        raise ImportNotAllowed(not_allowed_message(name, shown.lstrip("/\\") or "graded code",
                                                      self.allowed_packages, self.package),
                                  name=name)

    # -- the two hooks -----------------------------------------------------------------
    def _not_graded(self, fullname: str) -> bool:
        """A module of the student's package that is not a graded file (a helper of theirs)."""
        return (bool(self.graded_modules) and fullname.startswith(self.package + ".")
                and fullname not in self.graded_modules)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in self.allowed or self._not_graded(fullname):
            importer = self._importer_from_stack()
            if importer is not None:
                self._refuse(fullname, importer)
        return None         # let the normal finders find it

    def _guarded_import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name.partition(".")[0] not in self.allowed:
            importer = globals.get("__file__") if isinstance(globals, dict) else None
            if importer is None:
                importer = self._importer_from_stack()    # exec() of a string, or no globals given
            if importer is not None and self._is_student_file(str(importer)):
                self._refuse(name, str(importer))
        return self._original_import(name, globals, locals, fromlist, level)

    def install(self) -> "ImportGuard":
        sys.meta_path.insert(0, self)
        self._original_import = builtins.__import__
        builtins.__import__ = self._guarded_import
        return self

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if self._original_import is not None:
            builtins.__import__ = self._original_import
            self._original_import = None


def preimport(sources: Iterable[str], allowed: Iterable[str]) -> List[str]:
    """Import the allowed third-party modules that `sources` import, once, before any case.

    Returns the names imported. A module that fails to import is left for the graded file's
    own import to report."""
    allowed = set(allowed)
    done = []
    for source in sources:
        for name in imported_names(source):
            if name.partition(".")[0] in allowed and name not in sys.modules:
                try:
                    __import__(name)
                    done.append(name)
                except Exception:  # noqa: BLE001 - the graded file's import will say what is wrong
                    pass
    return done
