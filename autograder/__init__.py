"""Grading engine (engine/) and the HW4 case tables (hw4/).

Kept free of imports: the sandboxed worker gets a copy of a few of these modules.
"""
