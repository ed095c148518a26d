"""DDPM: the forward process, the training loss, and DDPM/DDIM sampling."""
import torch
import torch.nn.functional as F


def make_schedule(betas):
    """Every quantity the other functions need, precomputed from betas, each of shape (T,)."""
    # TODO: alphas, their cumulative product, its shifted copy, square roots and the posterior variance
    raise NotImplementedError("make_schedule: not implemented yet (see the TODO above)")


def extract(a, t, x_shape):
    """a[t] shaped (B, 1, ..., 1) to broadcast against a tensor of shape x_shape, on t's device."""
    # TODO: index a (moved to t's device) with t, then reshape to (B,) + (1,) * (len(x_shape) - 1)
    raise NotImplementedError("extract: not implemented yet (see the TODO above)")


def q_sample(x_start, t, sched, noise=None):
    """Sample x_t from q(x_t | x_0): sqrt(alphas_cumprod[t]) x_0 + sqrt(1 - alphas_cumprod[t]) noise."""
    # TODO: draw noise if none is given, then mix x_start and noise with the extracted coefficients
    raise NotImplementedError("q_sample: not implemented yet (see the TODO above)")


def predict_start_from_noise(x_t, t, noise, sched):
    """Invert q_sample: the x_0 that gives x_t with this noise."""
    # TODO: (x_t - sqrt(1 - alphas_cumprod[t]) noise) / sqrt(alphas_cumprod[t])
    raise NotImplementedError("predict_start_from_noise: not implemented yet (see the TODO above)")


def q_posterior_mean(x_start, x_t, t, sched):
    """The mean of q(x_{t-1} | x_t, x_0)."""
    # TODO: the two posterior coefficients at t, applied to x_start and x_t
    raise NotImplementedError("q_posterior_mean: not implemented yet (see the TODO above)")


def p_losses(denoise_model, x_start, t, sched, noise=None, loss_type="l2"):
    """The denoising loss: how well denoise_model(x_t, t) predicts the noise that made x_t."""
    # TODO: noise x_start with q_sample, predict the noise, compare with l1 / l2 / huber
    raise NotImplementedError("p_losses: not implemented yet (see the TODO above)")


@torch.no_grad()
def p_sample(model, x, t, t_index, sched, noise=None):
    """One DDPM reverse step from x_t to x_{t-1}; no noise is added at t_index 0."""
    # TODO: the model's mean; at t_index 0 return it, else add sqrt(posterior_variance) * noise
    raise NotImplementedError("p_sample: not implemented yet (see the TODO above)")


@torch.no_grad()
def p_sample_loop(model, shape, sched, generator=None, return_all=False):
    """DDPM sampling from pure noise; the final image, or every state from x_T to x_0."""
    # TODO: start from randn, then p_sample from T-1 down to 0, drawing noise with the generator for i > 0
    raise NotImplementedError("p_sample_loop: not implemented yet (see the TODO above)")


@torch.no_grad()
def ddim_step(model, x, t, t_prev, sched, eta=0.0, noise=None):
    """One DDIM step from t to t_prev (t_prev may be -1); eta=0 is deterministic."""
    # TODO: predict eps and x0, then move to t_prev; clamp the direction term's variance at 0
    raise NotImplementedError("ddim_step: not implemented yet (see the TODO above)")


@torch.no_grad()
def ddim_sample_loop(model, shape, sched, num_steps, eta=0.0, generator=None):
    """DDIM sampling over num_steps evenly spaced timesteps."""
    # TODO: visit range(0, T, T // num_steps) backwards, stepping to the next smaller one (or -1)
    raise NotImplementedError("ddim_sample_loop: not implemented yet (see the TODO above)")


def classifier_free_guidance(model, x, t, cond, guidance_scale):
    """Guided noise prediction: eps_uncond + guidance_scale * (eps_cond - eps_uncond)."""
    # TODO: call the model with and without the condition and extrapolate
    raise NotImplementedError("classifier_free_guidance: not implemented yet (see the TODO above)")
