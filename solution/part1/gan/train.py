"""Optimizers, one GAN training step, and a small training loop (provided)."""
import torch


def get_optimizer(model):
    """Adam with learning rate 1e-3 and betas (0.5, 0.999) over the model's parameters."""
    # BEGIN SOLUTION: torch.optim.Adam with lr=1e-3, betas=(0.5, 0.999)
    return torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    # END SOLUTION


def gan_train_step(D, G, D_solver, G_solver, real_images, noise_d, noise_g,
                   discriminator_loss_fn, generator_loss_fn):
    """One discriminator update, then one generator update; returns (d_loss, g_loss) as floats.

    `real_images` are already scaled to [-1, 1]; `noise_d` feeds the fakes shown to the
    discriminator, `noise_g` the fakes of the generator's update.
    """
    # BEGIN SOLUTION: update D on real and detached fake images, then G through D; return both losses as floats
    D_solver.zero_grad()
    fake_images = G(noise_d).detach()
    d_loss = discriminator_loss_fn(D(real_images), D(fake_images))
    d_loss.backward()
    D_solver.step()

    G_solver.zero_grad()
    g_loss = generator_loss_fn(D(G(noise_g)))
    g_loss.backward()
    G_solver.step()
    return d_loss.item(), g_loss.item()
    # END SOLUTION


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
