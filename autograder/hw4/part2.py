"""Case table of HW4 Part 2 (diffusion models): 14 points.

Each case is declared once here. Builders run only when references are generated
(with the reference solution importable as `diffusion`); calls run both there and,
on the student's code, in the sandbox. Tolerances: see TOLERANCES.md beside this file.
"""
import torch
from torch import nn

from autograder.engine.case import Case, CaseError, Part, Tolerance
from autograder.hw4.environment import ENVIRONMENT
from autograder.hw4.common import (as_loss, as_output, generator_from, load_weights, pack_weights, randn, uniform,
                                   warm_up_torch, with_time_limits)

SCHEDULE_KEYS = ("betas", "alphas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_recip_alphas",
                 "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod", "posterior_variance")

# Element-wise arithmetic on O(1) float32 values; see TOLERANCES.md for the measurements.
ELEMENTWISE = Tolerance(atol=2e-6, rtol=1e-5)
REDUCTION = Tolerance(atol=1e-5, rtol=1e-4)
SAMPLING = Tolerance(atol=1e-4, rtol=1e-4)
FLOAT64 = Tolerance(atol=1e-12, rtol=1e-10)


# ---------------------------------------------------------------------------
# Stand-ins for the U-Net: small, channel-mixing and timestep-dependent, so that
# a wrong timestep, channel or call shows in the output.
class EpsModel(nn.Module):
    """eps(x, t) = tanh(s[t] * (W x) + b), W mixing channels."""

    def __init__(self, w, s, b):
        super().__init__()
        self.register_buffer("w", w)
        self.register_buffer("s", s)
        self.register_buffer("b", b)

    def forward(self, x, t, cond=None):
        mixed = torch.einsum("oc,bc...->bo...", self.w.to(x.dtype), x)
        scale = self.s.to(x.dtype)[t].reshape(-1, *([1] * (x.dim() - 1)))
        bias = self.b.to(x.dtype).reshape(1, -1, *([1] * (x.dim() - 2)))
        return torch.tanh(scale * mixed + bias)


class CondEpsModel(EpsModel):
    """EpsModel plus a class embedding; cond=None means unconditional."""

    def __init__(self, w, s, b, emb):
        super().__init__(w, s, b)
        self.register_buffer("emb", emb)

    def forward(self, x, t, cond=None):
        out = super().forward(x, t)
        if cond is None:
            return out
        return out + self.emb.to(x.dtype)[cond].reshape(x.shape[0], -1, *([1] * (x.dim() - 2)))


def eps_model_inputs(g, channels, timesteps, classes=0):
    inputs = {"model.w": randn(g, channels, channels, scale=0.7), "model.s": uniform(g, 0.5, 1.5, timesteps),
              "model.b": randn(g, channels, scale=0.1)}
    if classes:
        inputs["model.emb"] = randn(g, classes, channels, scale=0.5)
    return inputs


def eps_model_from(inputs):
    if "model.emb" in inputs:
        return CondEpsModel(inputs["model.w"], inputs["model.s"], inputs["model.b"], inputs["model.emb"])
    return EpsModel(inputs["model.w"], inputs["model.s"], inputs["model.b"])


# ---------------------------------------------------------------------------
# Schedules: the reference make_schedule's output is an input of every later case,
# so that each function is graded on its own.
def betas_for(kind, timesteps):
    from diffusion.schedules import cosine_beta_schedule, linear_beta_schedule
    return linear_beta_schedule(timesteps) if kind == "linear" else cosine_beta_schedule(timesteps)


def schedule_inputs(kind, timesteps, dtype=torch.float32):
    from diffusion.ddpm import make_schedule
    sched = make_schedule(betas_for(kind, timesteps).to(dtype))
    return {f"sched.{key}": sched[key] for key in SCHEDULE_KEYS}


def sched_from(inputs):
    return {key[len("sched."):]: value for key, value in inputs.items() if key.startswith("sched.")}


def timesteps_of(inputs):
    return inputs["sched.betas"].shape[0]


def rng_probe():
    """A draw from the global generator: shows whether a function drew random numbers."""
    return torch.randn(4)


# ---------------------------------------------------------------------------
# schedules.py
def call_linear(fn, inputs, **kwargs):
    return {"betas": as_output(fn(int(inputs["timesteps"]), **kwargs), "linear_beta_schedule")}


def call_cosine(fn, inputs, **kwargs):
    return {"betas": as_output(fn(int(inputs["timesteps"]), **kwargs), "cosine_beta_schedule")}


def timesteps_input(timesteps):
    return lambda g: {"timesteps": torch.tensor(timesteps)}


# ddpm.py
def build_make_schedule(kind, timesteps, dtype=torch.float32):
    return lambda g: {"betas": betas_for(kind, timesteps).to(dtype)}


def call_make_schedule(fn, inputs):
    sched = fn(inputs["betas"].clone())
    if not isinstance(sched, dict):
        raise CaseError(f"make_schedule returned {type(sched).__name__}; a dict of tensors was expected")
    missing = [key for key in SCHEDULE_KEYS if key not in sched]
    if missing:
        raise CaseError(f"make_schedule's dict has no {', '.join(repr(k) for k in missing)}")
    return {key: as_output(sched[key], f"make_schedule[{key!r}]") for key in SCHEDULE_KEYS}


def build_extract(x_shape, timesteps, t_values, dtype=torch.float32):
    def build(g):
        return {"a": uniform(g, 0.1, 1.0, timesteps, dtype=dtype), "t": torch.tensor(t_values, dtype=torch.long),
                "x_shape": torch.tensor(x_shape, dtype=torch.long)}
    return build


def call_extract(fn, inputs):
    x_shape = torch.Size(inputs["x_shape"].tolist())
    return {"out": as_output(fn(inputs["a"], inputs["t"], x_shape), "extract")}


def build_noising(kind, timesteps, shape, t_values, dtype=torch.float32, extra=()):
    """x_start, t, noise and a schedule; `extra` names more same-shaped tensors."""
    def build(g):
        inputs = schedule_inputs(kind, timesteps, dtype)
        inputs.update({"x_start": randn(g, *shape, dtype=dtype), "noise": randn(g, *shape, dtype=dtype),
                       "t": torch.tensor(t_values, dtype=torch.long)})
        for name in extra:
            inputs[name] = randn(g, *shape, dtype=dtype)
        return inputs
    return build


def call_q_sample(fn, inputs, pass_noise=True):
    torch.manual_seed(0)   # noise=None must draw torch.randn_like(x_start) from the global generator
    out = fn(inputs["x_start"], inputs["t"], sched_from(inputs), noise=inputs["noise"] if pass_noise else None)
    return {"x_t": as_output(out, "q_sample")}


def call_predict_start(fn, inputs):
    out = fn(inputs["x_t"], inputs["t"], inputs["noise"], sched_from(inputs))
    return {"x_start": as_output(out, "predict_start_from_noise")}


def call_posterior_mean(fn, inputs):
    out = fn(inputs["x_start"], inputs["x_t"], inputs["t"], sched_from(inputs))
    return {"mean": as_output(out, "q_posterior_mean")}


def build_p_losses(kind, timesteps, shape, t_values):
    base = build_noising(kind, timesteps, shape, t_values)
    return lambda g: {**base(g), **eps_model_inputs(g, shape[1], timesteps)}


def call_p_losses(fn, inputs, pass_noise=True, **kwargs):
    torch.manual_seed(0)   # noise=None must draw torch.randn_like(x_start) from the global generator
    noise = inputs["noise"] if pass_noise else None
    out = fn(eps_model_from(inputs), inputs["x_start"], inputs["t"], sched_from(inputs), noise=noise, **kwargs)
    return {"loss": as_output(out, "p_losses")}


def call_p_losses_bad_type(fn, inputs, loss_types=("l3",)):
    """An unknown loss_type must raise ValueError: 1 where it did, one flag per loss_type (a 0-dim
    tensor for a single one)."""
    flags = []
    for loss_type in loss_types:
        try:
            fn(eps_model_from(inputs), inputs["x_start"], inputs["t"], sched_from(inputs), noise=inputs["noise"],
               loss_type=loss_type)
        except ValueError:
            flags.append(1)
        else:
            flags.append(0)
    return {"raised_value_error": torch.tensor(flags) if len(flags) > 1 else torch.tensor(flags[0])}


def build_p_sample(kind, timesteps, shape, t_values):
    def build(g):
        inputs = schedule_inputs(kind, timesteps)
        inputs.update(eps_model_inputs(g, shape[1], timesteps))
        inputs.update({"x": randn(g, *shape), "noise": randn(g, *shape), "t": torch.tensor(t_values, dtype=torch.long)})
        return inputs
    return build


def call_p_sample(fn, inputs, t_index, pass_noise=True):
    torch.manual_seed(0)
    noise = inputs["noise"] if pass_noise else None
    out = fn(eps_model_from(inputs), inputs["x"], inputs["t"], t_index, sched_from(inputs), noise=noise)
    return {"x_prev": as_output(out, "p_sample"), "rng_probe": rng_probe()}


def build_loop(kind, timesteps, channels, classes=0):
    def build(g):
        inputs = schedule_inputs(kind, timesteps)
        inputs.update(eps_model_inputs(g, channels, timesteps, classes))
        inputs["seed"] = torch.randint(0, 2 ** 31 - 1, (1,), generator=g)
        return inputs
    return build


def call_p_sample_loop(fn, inputs, shape, return_all=False):
    generator = generator_from(inputs)
    out = fn(eps_model_from(inputs), shape, sched_from(inputs), generator=generator, return_all=return_all)
    next_draw = torch.rand(3, generator=generator)   # shows a draw too many or too few
    if not return_all:
        return {"x_0": as_output(out, "p_sample_loop"), "next_draw": next_draw}
    expected = timesteps_of(inputs) + 1
    if not isinstance(out, (list, tuple)):
        raise CaseError(f"p_sample_loop(return_all=True) returned {type(out).__name__}; a list of T + 1 tensors was expected")
    if len(out) != expected:
        raise CaseError(f"p_sample_loop(return_all=True) returned {len(out)} states; "
                        f"T + 1 = {expected} were expected (x_T first, then one per step)")
    states = [as_output(state, "p_sample_loop(return_all=True)") for state in out]
    if any(state.shape != states[0].shape for state in states):
        raise CaseError("p_sample_loop(return_all=True) returned states of different shapes")
    return {"states": torch.stack(states), "next_draw": next_draw}


def build_ddim_step(kind, timesteps, shape, t_values, t_prev_values):
    base = build_p_sample(kind, timesteps, shape, t_values)
    return lambda g: {**base(g), "t_prev": torch.tensor(t_prev_values, dtype=torch.long)}


def call_ddim_step(fn, inputs, eta, pass_noise=True):
    torch.manual_seed(0)
    noise = inputs["noise"] if pass_noise else None
    out = fn(eps_model_from(inputs), inputs["x"], inputs["t"], inputs["t_prev"], sched_from(inputs), eta=eta, noise=noise)
    return {"x_prev": as_output(out, "ddim_step"), "rng_probe": rng_probe()}


def call_ddim_loop(fn, inputs, shape, num_steps, eta):
    generator = generator_from(inputs)
    out = fn(eps_model_from(inputs), shape, sched_from(inputs), num_steps, eta=eta, generator=generator)
    return {"x_0": as_output(out, "ddim_sample_loop"), "next_draw": torch.rand(3, generator=generator)}


def build_guidance(timesteps, shape, t_values, classes):
    def build(g):
        inputs = eps_model_inputs(g, shape[1], timesteps, classes)
        inputs.update({"x": randn(g, *shape), "t": torch.tensor(t_values, dtype=torch.long),
                       "cond": torch.randint(0, classes, (shape[0],), generator=g)})
        return inputs
    return build


def call_guidance(fn, inputs, guidance_scale):
    out = fn(eps_model_from(inputs), inputs["x"], inputs["t"], inputs["cond"], guidance_scale)
    return {"eps": as_output(out, "classifier_free_guidance")}


# unet.py
def build_embedding(t_values):
    return lambda g: {"time": torch.tensor(t_values, dtype=torch.long)}


def call_embedding(cls, inputs, dim):
    module = cls(dim)
    return {"emb": as_output(module(inputs["time"]), "SinusoidalPositionEmbeddings")}


def build_module(make, shapes):
    """Reference weights for the module `make()` builds, plus random tensors of `shapes`."""
    def build(g):
        inputs = pack_weights(make(), g)
        inputs.update({name: randn(g, *shape) for name, shape in shapes.items()})
        return inputs
    return build


def build_attention(dim, heads, dim_head, shape):
    def make():
        from diffusion.unet import Attention
        return Attention(dim, heads=heads, dim_head=dim_head)
    return build_module(make, {"x": shape})


def call_attention(cls, inputs, dim, heads, dim_head):
    module = load_weights(cls(dim, heads=heads, dim_head=dim_head), inputs, "Attention")
    return {"out": as_output(module(inputs["x"]), "Attention")}


def build_resnet(dim, dim_out, time_emb_dim, groups, shape):
    def make():
        from diffusion.unet import ResnetBlock
        return ResnetBlock(dim, dim_out, time_emb_dim=time_emb_dim, groups=groups)
    shapes = {"x": shape}
    if time_emb_dim:
        shapes["time_emb"] = (shape[0], time_emb_dim)
    return build_module(make, shapes)


def call_resnet(cls, inputs, dim, dim_out, time_emb_dim, groups, use_time=True):
    module = load_weights(cls(dim, dim_out, time_emb_dim=time_emb_dim, groups=groups), inputs, "ResnetBlock")
    time_emb = inputs["time_emb"] if use_time and "time_emb" in inputs else None
    return {"out": as_output(module(inputs["x"], time_emb), "ResnetBlock")}


# vae.py
def build_gaussian(shape, logvar_range=(-2.0, 1.0), dtype=torch.float32, recon=False):
    def build(g):
        inputs = {"mu": randn(g, *shape, dtype=dtype), "logvar": uniform(g, *logvar_range, *shape, dtype=dtype),
                  "eps": randn(g, *shape, dtype=dtype)}
        if recon:
            inputs.update({"x": uniform(g, 0, 1, 5, 1, 4, 3, dtype=dtype)[: shape[0]],
                           "recon_x": uniform(g, 0, 1, 5, 1, 4, 3, dtype=dtype)[: shape[0]]})
        return inputs
    return build


def call_reparameterize(fn, inputs, pass_eps=True):
    torch.manual_seed(0)   # eps=None must draw torch.randn_like(mu) from the global generator
    leaves = {name: inputs[name].clone().requires_grad_() for name in ("mu", "logvar")}
    z = fn(leaves["mu"], leaves["logvar"], eps=inputs["eps"] if pass_eps else None)
    out = as_output(z, "reparameterize")
    if not z.requires_grad:
        raise CaseError("reparameterize returned a sample that is not differentiable in mu and logvar")
    z.sum().backward()
    return {"z": out, **gradients(leaves)}


def gradients(leaves):
    """Each input's gradient (zeros where none flowed back)."""
    return {f"grad_{name}": (leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)).detach().clone()
            for name, leaf in leaves.items()}


def loss_with_grads(value, what, leaves):
    """The loss and the gradient it sends to each input: a loss must support backward()."""
    loss = as_loss(value, what)
    value.backward()
    return {"loss": loss, **gradients(leaves)}


def call_kl(fn, inputs):
    leaves = {name: inputs[name].clone().requires_grad_() for name in ("mu", "logvar")}
    return loss_with_grads(fn(leaves["mu"], leaves["logvar"]), "kl_divergence", leaves)


def call_vae_loss(fn, inputs, **kwargs):
    leaves = {name: inputs[name].clone().requires_grad_() for name in ("recon_x", "mu", "logvar")}
    value = fn(leaves["recon_x"], inputs["x"], leaves["mu"], leaves["logvar"], **kwargs)
    return loss_with_grads(value, "vae_loss", leaves)


# ---------------------------------------------------------------------------
S = "diffusion.schedules."
D = "diffusion.ddpm."
U = "diffusion.unet."
V = "diffusion.vae."
MIXED_8 = [0, 9, 3, 3, 7, 1, 8, 5]
SHAPE = (4, 3, 5, 5)

CASES = (
    # schedules.py: 1 point
    Case("linear_beta_schedule: T=10, default range", S + "linear_beta_schedule", timesteps_input(10), call_linear,
         points=0.1875, seed=101),
    Case("linear_beta_schedule: T=20, custom range", S + "linear_beta_schedule", timesteps_input(20),
         lambda fn, i: call_linear(fn, i, beta_start=1e-3, beta_end=0.04), points=0.125, seed=105),
    Case("linear_beta_schedule: T=1000, custom range", S + "linear_beta_schedule", timesteps_input(1000),
         lambda fn, i: call_linear(fn, i, beta_start=2e-4, beta_end=0.05), points=0.1875, seed=102, hidden=True),
    Case("cosine_beta_schedule: T=10", S + "cosine_beta_schedule", timesteps_input(10), call_cosine,
         points=0.1875, seed=103, tolerance=Tolerance(atol=1e-6, rtol=1e-5)),
    Case("cosine_beta_schedule: T=500 and s=0.004, smallest betas clipped", S + "cosine_beta_schedule",
         timesteps_input(500), lambda fn, i: call_cosine(fn, i, s=0.004), points=0.125, seed=106,
         tolerance=Tolerance(atol=1e-6, rtol=1.5e-4),
         note="the first three betas are below 1e-4 before the clip; float32 against float64 internals: "
              "see TOLERANCES.md"),
    Case("cosine_beta_schedule: T=1000 and s=0.02", S + "cosine_beta_schedule", timesteps_input(1000),
         lambda fn, i: call_cosine(fn, i, s=0.02), points=0.1875, seed=104, hidden=True,
         tolerance=Tolerance(atol=1e-6, rtol=1.5e-4),
         note="float32 vs float64 internals: 4.6e-5 at t=998 (beta 0.75), ~1e-7 on the smallest betas"),
    # make_schedule: 1 point
    Case("make_schedule: linear, T=10", D + "make_schedule", build_make_schedule("linear", 10), call_make_schedule,
         points=0.25, seed=201, tolerance=ELEMENTWISE),
    Case("make_schedule: cosine, T=1000", D + "make_schedule", build_make_schedule("cosine", 1000), call_make_schedule,
         points=0.25, seed=202, hidden=True, tolerance=Tolerance(atol=2e-5, rtol=1e-4),
         tolerances={"sqrt_one_minus_alphas_cumprod": Tolerance(atol=2e-5, rtol=2e-4)}),
    Case("make_schedule: linear, T=1", D + "make_schedule", build_make_schedule("linear", 1), call_make_schedule,
         points=0.25, seed=203, hidden=True, tolerance=Tolerance(atol=1e-6, rtol=2e-4),
         note="T=1: 1 - alphas_cumprod is tiny; differences of 8e-5 relative were measured"),
    Case("make_schedule: float64 betas", D + "make_schedule", build_make_schedule("linear", 50, torch.float64),
         call_make_schedule, points=0.25, seed=204, hidden=True, tolerance=FLOAT64),
    # extract: 0.5 point
    Case("extract: 4-d images", D + "extract", build_extract((3, 2, 4, 4), 10, [0, 9, 4]), call_extract,
         points=0.1875, seed=301, tolerance=FLOAT64),
    Case("extract: 3-d input", D + "extract", build_extract((2, 5, 6), 15, [14, 3]), call_extract,
         points=0.125, seed=303, tolerance=FLOAT64),
    Case("extract: 2-d input, batch of 1, float64", D + "extract", build_extract((1, 7), 20, [19], torch.float64),
         call_extract, points=0.1875, seed=302, hidden=True, tolerance=FLOAT64),
    # q_sample: 1 point
    Case("q_sample: linear, T=10", D + "q_sample", build_noising("linear", 10, SHAPE, [0, 9, 4, 4]), call_q_sample,
         points=0.25, seed=401, tolerance=ELEMENTWISE),
    Case("q_sample: noise=None draws randn_like, T=20", D + "q_sample",
         build_noising("linear", 20, (3, 2, 3, 3), [19, 0, 7]), lambda fn, i: call_q_sample(fn, i, pass_noise=False),
         points=0.125, seed=406, tolerance=ELEMENTWISE),
    Case("q_sample: mixed timesteps, non-square", D + "q_sample",
         build_noising("cosine", 1000, (8, 1, 3, 6), [0, 999, 1, 500, 998, 3, 250, 750]), call_q_sample,
         points=0.1875, seed=402, hidden=True, tolerance=Tolerance(atol=2e-5, rtol=1e-4)),
    Case("q_sample: batch of 1", D + "q_sample", build_noising("linear", 1000, (1, 2, 4, 4), [999]), call_q_sample,
         points=0.125, seed=403, hidden=True, tolerance=Tolerance(atol=2e-5, rtol=1e-4)),
    Case("q_sample: noise drawn with randn_like", D + "q_sample", build_noising("linear", 100, (2, 3, 2, 4), [0, 60]),
         lambda fn, i: call_q_sample(fn, i, pass_noise=False), points=0.125, seed=405, hidden=True,
         tolerance=ELEMENTWISE),
    Case("q_sample: float64", D + "q_sample", build_noising("linear", 100, (3, 2, 2, 5), [0, 50, 99], torch.float64),
         call_q_sample, points=0.1875, seed=404, hidden=True, tolerance=FLOAT64),
    # predict_start_from_noise: 0.5 point
    Case("predict_start_from_noise: linear, T=10", D + "predict_start_from_noise",
         build_noising("linear", 10, SHAPE, [0, 9, 4, 4], extra=("x_t",)), call_predict_start,
         points=0.25, seed=501, tolerance=Tolerance(atol=1e-5, rtol=1e-5)),
    Case("predict_start_from_noise: mixed timesteps, cosine", D + "predict_start_from_noise",
         build_noising("cosine", 1000, (8, 1, 4, 3), [0, 999, 1, 500, 998, 3, 250, 750], extra=("x_t",)),
         call_predict_start, points=0.25, seed=502, hidden=True, tolerance=Tolerance(atol=1e-4, rtol=2e-4),
         note="t=999 of the cosine schedule divides by sqrt(alphas_cumprod) ~ 6e-3"),
    # q_posterior_mean: 0.75 point
    Case("q_posterior_mean: linear, T=10", D + "q_posterior_mean",
         build_noising("linear", 10, SHAPE, [1, 9, 4, 4], extra=("x_t",)), call_posterior_mean,
         points=0.25, seed=601, tolerance=Tolerance(atol=1e-5, rtol=1e-4)),
    Case("q_posterior_mean: t=0 and T-1, cosine", D + "q_posterior_mean",
         build_noising("cosine", 1000, (6, 2, 3, 5), [0, 999, 0, 999, 500, 1], extra=("x_t",)), call_posterior_mean,
         points=0.25, seed=602, hidden=True, tolerance=Tolerance(atol=1e-5, rtol=1e-4)),
    Case("q_posterior_mean: float64", D + "q_posterior_mean",
         build_noising("linear", 100, (2, 1, 4, 4), [0, 73], torch.float64, extra=("x_t",)), call_posterior_mean,
         points=0.25, seed=603, hidden=True, tolerance=FLOAT64),
    # p_losses: 1 point
    Case("p_losses: l2 (default)", D + "p_losses", build_p_losses("linear", 10, SHAPE, [0, 9, 4, 4]), call_p_losses,
         points=0.25, seed=701, tolerance=REDUCTION),
    Case("p_losses: l1, T=10", D + "p_losses", build_p_losses("linear", 10, (3, 2, 4, 4), [2, 8, 5]),
         lambda fn, i: call_p_losses(fn, i, loss_type="l1"), points=0.0625, seed=707, tolerance=REDUCTION),
    Case("p_losses: huber, T=10", D + "p_losses", build_p_losses("linear", 10, (3, 2, 4, 4), [9, 1, 6]),
         lambda fn, i: call_p_losses(fn, i, loss_type="huber"), points=0.0625, seed=708, tolerance=REDUCTION),
    Case("p_losses: noise=None draws randn_like, T=10", D + "p_losses",
         build_p_losses("linear", 10, (2, 2, 3, 3), [4, 7]),
         lambda fn, i: call_p_losses(fn, i, pass_noise=False), points=0.0625, seed=709, tolerance=REDUCTION),
    Case("p_losses: loss_type 'mse' or 'smooth_l1' raises ValueError", D + "p_losses",
         build_p_losses("linear", 10, (2, 2, 3, 3), [1, 6]),
         lambda fn, i: call_p_losses_bad_type(fn, i, ("mse", "smooth_l1")),
         points=0.0625, seed=710, tolerance=Tolerance(atol=0, rtol=0)),
    Case("p_losses: l2, mixed timesteps, batch of 1", D + "p_losses", build_p_losses("cosine", 100, (1, 2, 3, 5), [57]),
         lambda fn, i: call_p_losses(fn, i, loss_type="l2"), points=0.25, seed=705, hidden=True, tolerance=REDUCTION),
    Case("p_losses: l1, mixed timesteps", D + "p_losses", build_p_losses("cosine", 100, (8, 2, 3, 4), MIXED_8),
         lambda fn, i: call_p_losses(fn, i, loss_type="l1"), points=0.0625, seed=702, hidden=True, tolerance=REDUCTION),
    Case("p_losses: noise drawn with randn_like", D + "p_losses", build_p_losses("linear", 10, (3, 1, 4, 4), [9, 0, 5]),
         lambda fn, i: call_p_losses(fn, i, pass_noise=False), points=0.0625, seed=706, hidden=True,
         tolerance=REDUCTION),
    Case("p_losses: huber", D + "p_losses", build_p_losses("linear", 100, (2, 3, 4, 4), [0, 99]),
         lambda fn, i: call_p_losses(fn, i, loss_type="huber"), points=0.0625, seed=703, hidden=True,
         tolerance=REDUCTION),
    Case("p_losses: unknown loss_type raises ValueError", D + "p_losses",
         build_p_losses("linear", 10, (2, 1, 4, 4), [3, 5]), call_p_losses_bad_type, points=0.0625, seed=704,
         hidden=True, tolerance=Tolerance(atol=0, rtol=0)),
    # p_sample: 1 point
    Case("p_sample: t=5 with given noise", D + "p_sample", build_p_sample("linear", 10, SHAPE, [5, 5, 5, 5]),
         lambda fn, i: call_p_sample(fn, i, t_index=5), points=0.25, seed=801, tolerance=REDUCTION),
    Case("p_sample: t=0 adds no noise", D + "p_sample", build_p_sample("linear", 10, SHAPE, [0, 0, 0, 0]),
         lambda fn, i: call_p_sample(fn, i, t_index=0), points=0.25, seed=802, tolerance=REDUCTION),
    Case("p_sample: t=0 with noise=None draws nothing", D + "p_sample",
         build_p_sample("linear", 20, (2, 3, 2, 4), [0, 0]),
         lambda fn, i: call_p_sample(fn, i, t_index=0, pass_noise=False), points=0.0625, seed=806,
         tolerance=REDUCTION),
    Case("p_sample: t=3 with noise=None draws randn_like", D + "p_sample",
         build_p_sample("linear", 20, (3, 2, 3, 3), [3, 3, 3]),
         lambda fn, i: call_p_sample(fn, i, t_index=3, pass_noise=False), points=0.0625, seed=807,
         tolerance=REDUCTION),
    Case("p_sample: t=0 draws no noise", D + "p_sample", build_p_sample("cosine", 50, (1, 2, 3, 5), [0]),
         lambda fn, i: call_p_sample(fn, i, t_index=0, pass_noise=False), points=0.0625, seed=803, hidden=True,
         tolerance=REDUCTION),
    Case("p_sample: t=5 draws its own noise", D + "p_sample", build_p_sample("linear", 10, (2, 2, 3, 3), [5, 5]),
         lambda fn, i: call_p_sample(fn, i, t_index=5, pass_noise=False), points=0.0625, seed=805, hidden=True,
         tolerance=REDUCTION),
    Case("p_sample: mixed timesteps up to T-1, cosine, non-square", D + "p_sample",
         build_p_sample("cosine", 1000, (3, 1, 2, 6), [999, 300, 10]),
         lambda fn, i: call_p_sample(fn, i, t_index=10), points=0.25, seed=804, hidden=True, tolerance=REDUCTION),
    # p_sample_loop: 0.75 point
    Case("p_sample_loop: linear, T=10", D + "p_sample_loop", build_loop("linear", 10, 3),
         lambda fn, i: call_p_sample_loop(fn, i, (2, 3, 4, 4)), points=0.25, seed=901, tolerance=SAMPLING),
    Case("p_sample_loop: return_all, T=5", D + "p_sample_loop", build_loop("linear", 5, 2),
         lambda fn, i: call_p_sample_loop(fn, i, (3, 2, 2, 3), return_all=True), points=0.125, seed=904,
         tolerance=SAMPLING),
    Case("p_sample_loop: return_all", D + "p_sample_loop", build_loop("linear", 8, 2),
         lambda fn, i: call_p_sample_loop(fn, i, (2, 2, 3, 3), return_all=True), points=0.125, seed=902, hidden=True,
         tolerance=SAMPLING),
    Case("p_sample_loop: cosine, T=40, batch of 1, non-square", D + "p_sample_loop", build_loop("cosine", 40, 1),
         lambda fn, i: call_p_sample_loop(fn, i, (1, 1, 5, 3)), points=0.25, seed=903, hidden=True, tolerance=SAMPLING),
    # ddim_step: 1 point
    Case("ddim_step: eta=0", D + "ddim_step", build_ddim_step("linear", 10, SHAPE, [9, 6, 3, 1], [6, 3, 0, -1]),
         lambda fn, i: call_ddim_step(fn, i, eta=0.0, pass_noise=False), points=0.25, seed=1001, tolerance=REDUCTION),
    Case("ddim_step: eta=0.5 with given noise", D + "ddim_step",
         build_ddim_step("linear", 50, (3, 2, 4, 4), [49, 20, 5], [30, 4, -1]),
         lambda fn, i: call_ddim_step(fn, i, eta=0.5), points=0.1875, seed=1006, tolerance=REDUCTION),
    Case("ddim_step: eta=1, noise=None draws randn_like", D + "ddim_step",
         build_ddim_step("linear", 20, (2, 3, 2, 2), [12, 19], [4, 9]),
         lambda fn, i: call_ddim_step(fn, i, eta=1.0, pass_noise=False), points=0.0625, seed=1007, tolerance=REDUCTION),
    Case("ddim_step: eta=1, a long jump where the clamp matters", D + "ddim_step",
         build_ddim_step("linear", 1000, (2, 2, 2, 3), [920, 948], [0, 0]),
         lambda fn, i: call_ddim_step(fn, i, eta=1.0), points=0.0625, seed=1008,
         tolerance=Tolerance(atol=2e-4, rtol=2e-4)),
    Case("ddim_step: eta=1 with given noise", D + "ddim_step",
         build_ddim_step("linear", 100, SHAPE, [99, 60, 30, 10], [80, 40, 0, -1]),
         lambda fn, i: call_ddim_step(fn, i, eta=1.0), points=0.125, seed=1002, hidden=True, tolerance=REDUCTION),
    Case("ddim_step: eta=0.5, cosine, long jumps to -1", D + "ddim_step",
         build_ddim_step("cosine", 1000, (4, 1, 3, 5), [999, 998, 500, 1], [-1, 997, 499, 0]),
         lambda fn, i: call_ddim_step(fn, i, eta=0.5), points=0.1875, seed=1003, hidden=True,
         tolerance=Tolerance(atol=2e-4, rtol=2e-4), note="t=999 -> -1 divides by sqrt(alphas_cumprod) ~ 6e-3"),
    Case("ddim_step: eta=1, long jumps where the clamp matters", D + "ddim_step",
         build_ddim_step("linear", 1000, (2, 1, 2, 2), [856, 878], [0, 0]),
         lambda fn, i: call_ddim_step(fn, i, eta=1.0), points=0.0625, seed=1004, hidden=True,
         tolerance=Tolerance(atol=2e-4, rtol=2e-4)),
    Case("ddim_step: eta=1 draws its own noise", D + "ddim_step",
         build_ddim_step("linear", 20, (2, 2, 3, 3), [15, 7], [10, 2]),
         lambda fn, i: call_ddim_step(fn, i, eta=1.0, pass_noise=False), points=0.0625, seed=1005, hidden=True,
         tolerance=REDUCTION),
    # ddim_sample_loop: 0.75 point
    Case("ddim_sample_loop: eta=0, T=20, 5 steps", D + "ddim_sample_loop", build_loop("linear", 20, 3),
         lambda fn, i: call_ddim_loop(fn, i, (2, 3, 4, 4), 5, 0.0), points=0.25, seed=1101, tolerance=SAMPLING),
    Case("ddim_sample_loop: eta=1, T=30, 4 steps", D + "ddim_sample_loop", build_loop("linear", 30, 2),
         lambda fn, i: call_ddim_loop(fn, i, (2, 2, 3, 3), 4, 1.0), points=0.125, seed=1104, tolerance=SAMPLING),
    Case("ddim_sample_loop: eta=0.5, T=50, 7 steps", D + "ddim_sample_loop", build_loop("cosine", 50, 2),
         lambda fn, i: call_ddim_loop(fn, i, (3, 2, 3, 5), 7, 0.5), points=0.1875, seed=1102, hidden=True,
         tolerance=SAMPLING),
    Case("ddim_sample_loop: eta=1, batch of 1", D + "ddim_sample_loop", build_loop("linear", 30, 1),
         lambda fn, i: call_ddim_loop(fn, i, (1, 1, 4, 4), 10, 1.0), points=0.1875, seed=1103, hidden=True,
         tolerance=SAMPLING),
    # classifier_free_guidance: 0.5 point
    Case("classifier_free_guidance: scale 3", D + "classifier_free_guidance", build_guidance(10, SHAPE, [0, 3, 6, 9], 5),
         lambda fn, i: call_guidance(fn, i, 3.0), points=0.25, seed=1201, tolerance=REDUCTION),
    Case("classifier_free_guidance: scale 0.5, batch of 1", D + "classifier_free_guidance",
         build_guidance(20, (1, 2, 3, 5), [19], 3), lambda fn, i: call_guidance(fn, i, 0.5), points=0.25, seed=1202,
         hidden=True, tolerance=REDUCTION),
    # SinusoidalPositionEmbeddings: 0.75 point
    Case("SinusoidalPositionEmbeddings: dim 32", U + "SinusoidalPositionEmbeddings", build_embedding([0, 1, 10, 500]),
         lambda cls, i: call_embedding(cls, i, 32), points=0.25, seed=1301, tolerance=Tolerance(atol=1e-4, rtol=1e-5),
         note="at t near 999 float32 arguments of sin/cos differ by up to 5e-5"),
    Case("SinusoidalPositionEmbeddings: dim 4, t up to 999", U + "SinusoidalPositionEmbeddings",
         build_embedding([999, 998, 0]), lambda cls, i: call_embedding(cls, i, 4), points=0.25, seed=1302, hidden=True,
         tolerance=Tolerance(atol=1e-4, rtol=1e-5)),
    Case("SinusoidalPositionEmbeddings: dim 128, batch of 1", U + "SinusoidalPositionEmbeddings", build_embedding([777]),
         lambda cls, i: call_embedding(cls, i, 128), points=0.25, seed=1303, hidden=True,
         tolerance=Tolerance(atol=1e-4, rtol=1e-5)),
    # Attention: 1 point
    Case("Attention: default heads", U + "Attention", build_attention(8, 4, 32, (2, 8, 4, 4)),
         lambda cls, i: call_attention(cls, i, 8, 4, 32), points=0.25, seed=1401, tolerance=REDUCTION),
    Case("Attention: 2 heads of 16", U + "Attention", build_attention(6, 2, 16, (2, 6, 3, 3)),
         lambda cls, i: call_attention(cls, i, 6, 2, 16), points=0.1875, seed=1405, tolerance=REDUCTION),
    Case("Attention: 2 heads of 8, non-square", U + "Attention", build_attention(6, 2, 8, (3, 6, 3, 5)),
         lambda cls, i: call_attention(cls, i, 6, 2, 8), points=0.1875, seed=1402, hidden=True, tolerance=REDUCTION),
    Case("Attention: 3 heads, batch of 1", U + "Attention", build_attention(4, 3, 5, (1, 4, 2, 7)),
         lambda cls, i: call_attention(cls, i, 4, 3, 5), points=0.1875, seed=1403, hidden=True, tolerance=REDUCTION),
    Case("Attention: one pixel", U + "Attention", build_attention(5, 1, 4, (2, 5, 1, 1)),
         lambda cls, i: call_attention(cls, i, 5, 1, 4), points=0.1875, seed=1404, hidden=True, tolerance=REDUCTION),
    # ResnetBlock: 1 point
    Case("ResnetBlock: with time embedding", U + "ResnetBlock", build_resnet(8, 16, 12, 8, (2, 8, 5, 5)),
         lambda cls, i: call_resnet(cls, i, 8, 16, 12, 8), points=0.25, seed=1501, tolerance=REDUCTION),
    Case("ResnetBlock: same channels (identity residual), no time embedding", U + "ResnetBlock",
         build_resnet(6, 6, None, 3, (2, 6, 4, 4)), lambda cls, i: call_resnet(cls, i, 6, 6, None, 3), points=0.125,
         seed=1505, tolerance=REDUCTION),
    Case("ResnetBlock: time_emb_dim set, forward without time_emb", U + "ResnetBlock",
         build_resnet(4, 6, 5, 2, (2, 4, 3, 3)), lambda cls, i: call_resnet(cls, i, 4, 6, 5, 2, use_time=False),
         points=0.125, seed=1506, tolerance=REDUCTION),
    Case("ResnetBlock: same channels, no time embedding", U + "ResnetBlock", build_resnet(8, 8, None, 4, (1, 8, 3, 6)),
         lambda cls, i: call_resnet(cls, i, 8, 8, None, 4), points=0.125, seed=1502, hidden=True, tolerance=REDUCTION),
    Case("ResnetBlock: time_emb_dim set, called without one", U + "ResnetBlock", build_resnet(4, 8, 6, 2, (2, 4, 4, 3)),
         lambda cls, i: call_resnet(cls, i, 4, 8, 6, 2, use_time=False), points=0.125, seed=1503, hidden=True,
         tolerance=REDUCTION),
    Case("ResnetBlock: non-square, groups 2", U + "ResnetBlock", build_resnet(6, 4, 10, 2, (3, 6, 2, 5)),
         lambda cls, i: call_resnet(cls, i, 6, 4, 10, 2), points=0.25, seed=1504, hidden=True, tolerance=REDUCTION),
    # reparameterize: 0.5 point
    Case("reparameterize: given eps", V + "reparameterize", build_gaussian((4, 6)), call_reparameterize,
         points=0.25, seed=1601, tolerance=ELEMENTWISE),
    Case("reparameterize: eps=None draws randn_like", V + "reparameterize", build_gaussian((3, 5)),
         lambda fn, i: call_reparameterize(fn, i, pass_eps=False), points=0.125, seed=1603, tolerance=ELEMENTWISE),
    Case("reparameterize: 4-d, eps drawn with randn_like", V + "reparameterize", build_gaussian((2, 3, 2, 2)),
         lambda fn, i: call_reparameterize(fn, i, pass_eps=False), points=0.125, seed=1602, hidden=True,
         tolerance=ELEMENTWISE),
    # kl_divergence: 0.5 point
    Case("kl_divergence: (B, D)", V + "kl_divergence", build_gaussian((4, 6)), call_kl, points=0.1875, seed=1701,
         tolerance=REDUCTION),
    Case("kl_divergence: 3-d (B, C, D)", V + "kl_divergence", build_gaussian((2, 3, 4)), call_kl, points=0.125,
         seed=1703, tolerance=REDUCTION),
    Case("kl_divergence: 4-d, extreme logvar", V + "kl_divergence", build_gaussian((3, 2, 3, 3), (-20.0, 8.0)),
         call_kl, points=0.1875, seed=1702, hidden=True, tolerance=REDUCTION),
    # vae_loss: 0.5 point
    Case("vae_loss: beta=1", V + "vae_loss", build_gaussian((4, 6), recon=True), call_vae_loss, points=0.1875,
         seed=1801, tolerance=REDUCTION),
    Case("vae_loss: beta=2", V + "vae_loss", build_gaussian((3, 4), recon=True),
         lambda fn, i: call_vae_loss(fn, i, beta=2.0), points=0.125, seed=1803, tolerance=REDUCTION),
    Case("vae_loss: beta=0.25, batch of 1", V + "vae_loss", build_gaussian((1, 3), recon=True),
         lambda fn, i: call_vae_loss(fn, i, beta=0.25), points=0.1875, seed=1802, hidden=True, tolerance=REDUCTION),
)

# CPU seconds per case (Case's default: 1 s). See TOLERANCES.md, "Time limits", for the measurements:
# Attention and the sampling loops are where slow but correct code (Python loops over pixels, an
# .item() or a print per step) is slowest; element-wise functions take milliseconds even so.
CASES = with_time_limits(CASES, {
    "Attention": 2.0, "p_sample_loop": 2.0, "ddim_sample_loop": 2.0,
    "linear_beta_schedule": 0.5, "cosine_beta_schedule": 0.5, "make_schedule": 0.5, "extract": 0.5,
    "q_sample": 0.5, "predict_start_from_noise": 0.5, "q_posterior_mean": 0.5, "classifier_free_guidance": 0.5,
    "reparameterize": 0.5, "kl_divergence": 0.5, "vae_loss": 0.5,
})

PART = Part(
    key="part2",
    assignment="hw4",
    title="HW4: Part 2 Diffusion Models",
    package="diffusion",
    files=("diffusion/schedules.py", "diffusion/ddpm.py", "diffusion/unet.py", "diffusion/vae.py"),
    total_points=14.0,
    cases=CASES,
    notebook="hw4-part2.ipynb",
    mistakes="autograder.hw4.mistakes",
    environment=ENVIRONMENT,
    warmup=warm_up_torch,
)
