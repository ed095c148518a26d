"""HW4's content: one case table per Gradescope assignment, and the environment they share."""
from autograder.hw4.environment import ENVIRONMENT  # noqa: F401 - what graded files may import

PARTS = {"part1": "autograder.hw4.part1", "part2": "autograder.hw4.part2"}
