"""HW4's content: one case table per Gradescope assignment."""
