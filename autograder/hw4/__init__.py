"""HW4's content: one case table per Gradescope assignment."""

PARTS = {"part1": "autograder.hw4.part1", "part2": "autograder.hw4.part2"}
