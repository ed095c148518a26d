"""`python -m autograder.tools.requirements`: the pip requirements every part's environment declares.

The development virtual environment installs these (with requirements-dev.txt), so that it
holds the same packages, at the same pins, as Gradescope's image. It needs nothing installed.
"""
import importlib

from autograder.tools.parts import COURSES


def declared() -> list:
    found = []
    for course in COURSES:
        environment = importlib.import_module(course).ENVIRONMENT
        found.extend(requirement for requirement in environment.gradescope_requirements() if requirement not in found)
    return found


if __name__ == "__main__":
    print("\n".join(declared()))
