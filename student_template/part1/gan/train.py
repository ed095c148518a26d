"""Optimizers, one GAN training step, and a small training loop (provided)."""
import torch


def get_optimizer(model):
    """Adam with learning rate 1e-3 and betas (0.5, 0.999) over the model's parameters."""
    # TODO: torch.optim.Adam with lr=1e-3, betas=(0.5, 0.999)
    raise NotImplementedError("get_optimizer: not implemented yet (see the TODO above)")


def gan_train_step(D, G, D_solver, G_solver, real_images, noise_d, noise_g,
                   discriminator_loss_fn, generator_loss_fn):
    """One discriminator update, then one generator update; returns (d_loss, g_loss) as floats.

    `real_images` are already scaled to [-1, 1]; `noise_d` feeds the fakes shown to the
    discriminator, `noise_g` the fakes of the generator's update.
    """
    # TODO: update D on real and detached fake images, then G through D; return both losses as floats
    raise NotImplementedError("gan_train_step: not implemented yet (see the TODO above)")


def run_a_gan(D, G, D_solver, G_solver, discriminator_loss_fn, generator_loss_fn,
              loader, num_epochs=10, batch_size=128, noise_dim=96, generator=None,
              max_iters=None, on_iteration=None):
    """Train a GAN with gan_train_step (provided, not graded).

    `loader` yields batches of images in [0, 1] (optionally as (images, labels)).
    `on_iteration(iteration, d_loss, g_loss, G)` is called after every step, for
    progress bars and pictures. Returns the lists of discriminator and generator losses.
    """
    from gan.models import sample_noise

    d_losses, g_losses = [], []
    iteration = 0
    for _ in range(num_epochs):
        for batch in loader:
            images = batch[0] if isinstance(batch, (list, tuple)) else batch
            if images.shape[0] != batch_size:
                continue
            real_images = 2 * images - 1
            noise_d = sample_noise(batch_size, noise_dim, generator=generator).to(real_images.device)
            noise_g = sample_noise(batch_size, noise_dim, generator=generator).to(real_images.device)
            d_loss, g_loss = gan_train_step(D, G, D_solver, G_solver, real_images, noise_d, noise_g,
                                            discriminator_loss_fn, generator_loss_fn)
            d_losses.append(d_loss)
            g_losses.append(g_loss)
            if on_iteration is not None:
                on_iteration(iteration, d_loss, g_loss, G)
            iteration += 1
            if max_iters is not None and iteration >= max_iters:
                return d_losses, g_losses
    return d_losses, g_losses
