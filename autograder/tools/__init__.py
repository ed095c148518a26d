"""The TA's tools, one verb a module: build, handout, zips, simulate, regrade, mutation.

Never shipped to Gradescope or to students; they may import anything the project's
virtual environment has.
"""
