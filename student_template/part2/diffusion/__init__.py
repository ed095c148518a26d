"""HW4 Part 2: diffusion models. The graded files are schedules.py, ddpm.py, unet.py and vae.py."""
