"""GAN losses: binary cross-entropy, least squares and cycle consistency."""
import torch


def bce_loss(logits, targets):
    """Mean binary cross-entropy between sigmoid(logits) and targets, computed stably.

    `targets` is a tensor of the shape of `logits` or a Python number. Do not call
    torch's own BCE functions or modules: write the formula.
    """
    # TODO: use max(x, 0) - x * y + log(1 + exp(-|x|)), which never overflows
    raise NotImplementedError("bce_loss: not implemented yet (see the TODO above)")


def discriminator_loss(logits_real, logits_fake):
    """Vanilla GAN discriminator loss: real images labelled 1, fakes labelled 0."""
    # TODO: bce_loss on the real logits with target 1 plus on the fake logits with target 0
    raise NotImplementedError("discriminator_loss: not implemented yet (see the TODO above)")


def generator_loss(logits_fake):
    """Vanilla (non-saturating) GAN generator loss: fakes labelled 1."""
    # TODO: bce_loss on the fake logits with target 1
    raise NotImplementedError("generator_loss: not implemented yet (see the TODO above)")


def ls_discriminator_loss(scores_real, scores_fake):
    """Least-squares GAN discriminator loss."""
    # TODO: 0.5 * mean((real - 1)^2) + 0.5 * mean(fake^2)
    raise NotImplementedError("ls_discriminator_loss: not implemented yet (see the TODO above)")


def ls_generator_loss(scores_fake):
    """Least-squares GAN generator loss."""
    # TODO: 0.5 * mean((fake - 1)^2)
    raise NotImplementedError("ls_generator_loss: not implemented yet (see the TODO above)")


def cycle_consistency_loss(real_x, cycled_x, real_y, cycled_y, lambda_cyc=10.0):
    """CycleGAN cycle loss: lambda_cyc * (mean|F(G(x)) - x| + mean|G(F(y)) - y|)."""
    # TODO: mean absolute error of both cycles, summed, times lambda_cyc
    raise NotImplementedError("cycle_consistency_loss: not implemented yet (see the TODO above)")
