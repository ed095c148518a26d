"""DDPM: the forward process, the training loss, and DDPM/DDIM sampling."""
import torch
import torch.nn.functional as F


def make_schedule(betas):
    """Every quantity the other functions need, precomputed from betas, each of shape (T,)."""
    # BEGIN SOLUTION: alphas, their cumulative product, its shifted copy, square roots and the posterior variance
    alphas = 1.0 - betas
    alphas_cumprod = torch.cumprod(alphas, dim=0)
    alphas_cumprod_prev = F.pad(alphas_cumprod[:-1], (1, 0), value=1.0)
    return {
        "betas": betas,
        "alphas": alphas,
        "alphas_cumprod": alphas_cumprod,
        "alphas_cumprod_prev": alphas_cumprod_prev,
        "sqrt_recip_alphas": torch.sqrt(1.0 / alphas),
        "sqrt_alphas_cumprod": torch.sqrt(alphas_cumprod),
        "sqrt_one_minus_alphas_cumprod": torch.sqrt(1.0 - alphas_cumprod),
        "posterior_variance": betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod),
    }
    # END SOLUTION


def extract(a, t, x_shape):
    """a[t] shaped (B, 1, ..., 1) to broadcast against a tensor of shape x_shape, on t's device."""
    # BEGIN SOLUTION: index a (moved to t's device) with t, then reshape to (B,) + (1,) * (len(x_shape) - 1)
    batch_size = t.shape[0]
    out = a.to(t.device)[t]
    return out.reshape(batch_size, *((1,) * (len(x_shape) - 1)))
    # END SOLUTION


def q_sample(x_start, t, sched, noise=None):
    """Sample x_t from q(x_t | x_0): sqrt(alphas_cumprod[t]) x_0 + sqrt(1 - alphas_cumprod[t]) noise."""
    # BEGIN SOLUTION: draw noise if none is given, then mix x_start and noise with the extracted coefficients
    if noise is None:
        noise = torch.randn_like(x_start)
    sqrt_alphas_cumprod_t = extract(sched["sqrt_alphas_cumprod"], t, x_start.shape)
    sqrt_one_minus_alphas_cumprod_t = extract(sched["sqrt_one_minus_alphas_cumprod"], t, x_start.shape)
    return sqrt_alphas_cumprod_t * x_start + sqrt_one_minus_alphas_cumprod_t * noise
    # END SOLUTION


def predict_start_from_noise(x_t, t, noise, sched):
    """Invert q_sample: the x_0 that gives x_t with this noise."""
    # BEGIN SOLUTION: (x_t - sqrt(1 - alphas_cumprod[t]) noise) / sqrt(alphas_cumprod[t])
    sqrt_alphas_cumprod_t = extract(sched["sqrt_alphas_cumprod"], t, x_t.shape)
    sqrt_one_minus_alphas_cumprod_t = extract(sched["sqrt_one_minus_alphas_cumprod"], t, x_t.shape)
    return (x_t - sqrt_one_minus_alphas_cumprod_t * noise) / sqrt_alphas_cumprod_t
    # END SOLUTION


def q_posterior_mean(x_start, x_t, t, sched):
    """The mean of q(x_{t-1} | x_t, x_0)."""
    # BEGIN SOLUTION: the two posterior coefficients at t, applied to x_start and x_t
    betas_t = extract(sched["betas"], t, x_t.shape)
    alphas_t = extract(sched["alphas"], t, x_t.shape)
    alphas_cumprod_t = extract(sched["alphas_cumprod"], t, x_t.shape)
    alphas_cumprod_prev_t = extract(sched["alphas_cumprod_prev"], t, x_t.shape)
    coef_start = betas_t * torch.sqrt(alphas_cumprod_prev_t) / (1.0 - alphas_cumprod_t)
    coef_t = (1.0 - alphas_cumprod_prev_t) * torch.sqrt(alphas_t) / (1.0 - alphas_cumprod_t)
    return coef_start * x_start + coef_t * x_t
    # END SOLUTION


def p_losses(denoise_model, x_start, t, sched, noise=None, loss_type="l2"):
    """The denoising loss: how well denoise_model(x_t, t) predicts the noise that made x_t."""
    # BEGIN SOLUTION: noise x_start with q_sample, predict the noise, compare with l1 / l2 / huber
    if noise is None:
        noise = torch.randn_like(x_start)
    x_noisy = q_sample(x_start, t, sched, noise=noise)
    predicted_noise = denoise_model(x_noisy, t)
    if loss_type == "l1":
        return F.l1_loss(noise, predicted_noise)
    if loss_type == "l2":
        return F.mse_loss(noise, predicted_noise)
    if loss_type == "huber":
        return F.smooth_l1_loss(noise, predicted_noise, beta=1.0)
    raise ValueError(f"unknown loss_type {loss_type!r}: use 'l1', 'l2' or 'huber'")
    # END SOLUTION


@torch.no_grad()
def p_sample(model, x, t, t_index, sched, noise=None):
    """One DDPM reverse step from x_t to x_{t-1}; no noise is added at t_index 0."""
    # BEGIN SOLUTION: the model's mean; at t_index 0 return it, else add sqrt(posterior_variance) * noise
    betas_t = extract(sched["betas"], t, x.shape)
    sqrt_one_minus_alphas_cumprod_t = extract(sched["sqrt_one_minus_alphas_cumprod"], t, x.shape)
    sqrt_recip_alphas_t = extract(sched["sqrt_recip_alphas"], t, x.shape)
    model_mean = sqrt_recip_alphas_t * (x - betas_t * model(x, t) / sqrt_one_minus_alphas_cumprod_t)
    if t_index == 0:
        return model_mean
    if noise is None:
        noise = torch.randn_like(x)
    posterior_variance_t = extract(sched["posterior_variance"], t, x.shape)
    return model_mean + torch.sqrt(posterior_variance_t) * noise
    # END SOLUTION


@torch.no_grad()
def p_sample_loop(model, shape, sched, generator=None, return_all=False):
    """DDPM sampling from pure noise; the final image, or every state from x_T to x_0."""
    # BEGIN SOLUTION: start from randn, then p_sample from T-1 down to 0, drawing noise with the generator for i > 0
    num_timesteps = sched["betas"].shape[0]
    img = torch.randn(shape, generator=generator)
    imgs = [img]
    for i in reversed(range(num_timesteps)):
        t = torch.full((shape[0],), i, dtype=torch.long)
        noise = torch.randn(shape, generator=generator) if i > 0 else None
        img = p_sample(model, img, t, i, sched, noise=noise)
        imgs.append(img)
    return imgs if return_all else img
    # END SOLUTION


@torch.no_grad()
def ddim_step(model, x, t, t_prev, sched, eta=0.0, noise=None):
    """One DDIM step from t to t_prev (t_prev may be -1); eta=0 is deterministic."""
    # BEGIN SOLUTION: predict eps and x0, then move to t_prev; clamp the direction term's variance at 0
    alphas_cumprod = sched["alphas_cumprod"].to(t.device)

    def alphas_cumprod_at(steps):
        # alphas_cumprod[steps], with 1 where steps is -1 (before the first step)
        values = torch.where(steps >= 0, alphas_cumprod[steps.clamp(min=0)], torch.ones_like(alphas_cumprod[0]))
        return values.reshape(steps.shape[0], *((1,) * (x.dim() - 1)))

    a_t = alphas_cumprod_at(t)
    a_prev = alphas_cumprod_at(t_prev)
    eps = model(x, t)
    x0 = (x - torch.sqrt(1 - a_t) * eps) / torch.sqrt(a_t)
    sigma = eta * torch.sqrt((1 - a_prev) / (1 - a_t)) * torch.sqrt(1 - a_t / a_prev)
    direction = torch.sqrt(torch.clamp(1 - a_prev - sigma ** 2, min=0.0)) * eps
    out = torch.sqrt(a_prev) * x0 + direction
    if eta > 0:
        if noise is None:
            noise = torch.randn_like(x)
        out = out + sigma * noise
    return out
    # END SOLUTION


@torch.no_grad()
def ddim_sample_loop(model, shape, sched, num_steps, eta=0.0, generator=None):
    """DDIM sampling over num_steps evenly spaced timesteps."""
    # BEGIN SOLUTION: visit range(0, T, T // num_steps) backwards, stepping to the next smaller one (or -1)
    num_timesteps = sched["betas"].shape[0]
    timesteps = list(range(0, num_timesteps, num_timesteps // num_steps))
    x = torch.randn(shape, generator=generator)
    for index in reversed(range(len(timesteps))):
        t = torch.full((shape[0],), timesteps[index], dtype=torch.long)
        t_prev = torch.full((shape[0],), timesteps[index - 1] if index > 0 else -1, dtype=torch.long)
        noise = torch.randn(shape, generator=generator) if eta > 0 else None
        x = ddim_step(model, x, t, t_prev, sched, eta=eta, noise=noise)
    return x
    # END SOLUTION


def classifier_free_guidance(model, x, t, cond, guidance_scale):
    """Guided noise prediction: eps_uncond + guidance_scale * (eps_cond - eps_uncond)."""
    # BEGIN SOLUTION: call the model with and without the condition and extrapolate
    eps_cond = model(x, t, cond)
    eps_uncond = model(x, t, None)
    return eps_uncond + guidance_scale * (eps_cond - eps_uncond)
    # END SOLUTION
