"""The generic grading engine: nothing in here knows about GANs or diffusion."""
