"""What HW4's graded files may import, and what its grader installs: declared once.

The build derives from this what setup.sh installs on Gradescope (the zip's
requirements.txt), what the handout's requirements.txt installs for students, and the
modules the worker and the public tests let graded code import. The README explains the
choices; a package is added here, nowhere else.
"""
from autograder.engine.case import Environment, Package

ENVIRONMENT = Environment(
    graded=(
        Package("torch", "torch==2.13.0", for_students="torch>=2.1",
                why="the assignment is written in it; the CPU build on Gradescope (the grader runs on CPU)"),
        Package("numpy", "numpy>=1.24,<3",
                why="students convert tensors for plots and checks; torch works with it"),
        Package("matplotlib", "matplotlib>=3.7,<4", modules=("matplotlib", "mpl_toolkits"),
                why="debug plots left in graded files; the grader draws them with the headless Agg backend"),
        Package("tqdm", "tqdm>=4.64,<5",
                why="progress bars around training and sampling loops; the grader captures what they print"),
        Package("einops", "einops>=0.7,<1",
                why="`rearrange` is how the U-Net code this part follows writes Attention; pure Python, no dependencies"),
    ),
    grader=(
        Package("safetensors", "safetensors>=0.4,<1",
                why="tensors cross between the sandbox and the grader (and reach the public tests) without pickle"),
    ),
)
