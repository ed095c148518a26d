"""HW4 Part 1: GANs. The graded files are models.py, losses.py and train.py."""
