"""GAN losses: binary cross-entropy, least squares and cycle consistency."""
import torch


def bce_loss(logits, targets):
    """Mean binary cross-entropy between sigmoid(logits) and targets, computed stably.

    `targets` is a tensor of the shape of `logits` or a Python number. Do not call
    torch's own BCE functions or modules: write the formula.
    """
    # BEGIN SOLUTION: use max(x, 0) - x * y + log(1 + exp(-|x|)), which never overflows
    targets = torch.as_tensor(targets, dtype=logits.dtype, device=logits.device).expand_as(logits)
    loss = logits.clamp(min=0) - logits * targets + torch.log1p(torch.exp(-logits.abs()))
    return loss.mean()
    # END SOLUTION


def discriminator_loss(logits_real, logits_fake):
    """Vanilla GAN discriminator loss: real images labelled 1, fakes labelled 0."""
    # BEGIN SOLUTION: bce_loss on the real logits with target 1 plus on the fake logits with target 0
    return bce_loss(logits_real, 1.0) + bce_loss(logits_fake, 0.0)
    # END SOLUTION


def generator_loss(logits_fake):
    """Vanilla (non-saturating) GAN generator loss: fakes labelled 1."""
    # BEGIN SOLUTION: bce_loss on the fake logits with target 1
    return bce_loss(logits_fake, 1.0)
    # END SOLUTION


def ls_discriminator_loss(scores_real, scores_fake):
    """Least-squares GAN discriminator loss."""
    # BEGIN SOLUTION: 0.5 * mean((real - 1)^2) + 0.5 * mean(fake^2)
    return 0.5 * ((scores_real - 1) ** 2).mean() + 0.5 * (scores_fake ** 2).mean()
    # END SOLUTION


def ls_generator_loss(scores_fake):
    """Least-squares GAN generator loss."""
    # BEGIN SOLUTION: 0.5 * mean((fake - 1)^2)
    return 0.5 * ((scores_fake - 1) ** 2).mean()
    # END SOLUTION


def cycle_consistency_loss(real_x, cycled_x, real_y, cycled_y, lambda_cyc=10.0):
    """CycleGAN cycle loss: lambda_cyc * (mean|F(G(x)) - x| + mean|G(F(y)) - y|)."""
    # BEGIN SOLUTION: mean absolute error of both cycles, summed, times lambda_cyc
    return lambda_cyc * ((cycled_x - real_x).abs().mean() + (cycled_y - real_y).abs().mean())
    # END SOLUTION
