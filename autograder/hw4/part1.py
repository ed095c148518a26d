"""Case table of HW4 Part 1 (GANs): 5 points.

Each case is declared once here. Builders run only when references are generated
(with the reference solution importable as `gan`); calls run both there and, on
the student's code, in the sandbox. Tolerances: see TOLERANCES.md beside this file.
"""
from dataclasses import replace
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from autograder.engine.case import Case, CaseError, Part, Tolerance
from autograder.hw4.environment import ENVIRONMENT
from autograder.hw4.common import (as_loss, as_output, load_weights, pack_weights, randn, uniform, warm_up_torch,
                                   with_time_limits)

ELEMENTWISE = Tolerance(atol=2e-6, rtol=1e-5)
REDUCTION = Tolerance(atol=1e-5, rtol=1e-4)
NETWORK = Tolerance(atol=1e-5, rtol=1e-4)
FLOAT64 = Tolerance(atol=1e-12, rtol=1e-10)

# bce_loss must be written from the formula (ASSIGNMENT.md); the worker makes these raise.
BCE_BUILTINS = (
    "torch.nn.functional.binary_cross_entropy_with_logits",
    "torch.nn.functional.binary_cross_entropy",
    "torch.binary_cross_entropy_with_logits",
    "torch.nn.BCEWithLogitsLoss.forward",
    "torch.nn.BCELoss.forward",
)


# models.py
def call_sample_noise(fn, inputs):
    generator = torch.Generator().manual_seed(int(inputs["seed"]))
    out = fn(int(inputs["batch_size"]), int(inputs["dim"]), generator=generator)
    return {"noise": as_output(out, "sample_noise"), "next_draw": torch.rand(3, generator=generator)}


def build_sample_noise(batch_size, dim):
    return lambda g: {"batch_size": torch.tensor(batch_size), "dim": torch.tensor(dim),
                      "seed": torch.randint(0, 2 ** 31 - 1, (1,), generator=g)}


def build_network(make, input_shape, scale=1.0):
    def build(g):
        inputs = pack_weights(make(), g)
        inputs["x"] = randn(g, *input_shape, scale=scale)
        return inputs
    return build


def reference(name, *args):
    def make():
        import gan.models
        return getattr(gan.models, name)(*args)
    return make


def call_network(cls, inputs, name, args=(), train=False):
    model = load_weights(cls(*args), inputs, name)
    model.train(train)
    with torch.no_grad():
        return {"out": as_output(model(inputs["x"]), name)}


# losses.py
def loss_call(fn, name, inputs, *input_names, target=None, **kwargs):
    """Call a loss on fresh leaves of the named inputs; return the loss and its gradients."""
    leaves = [inputs[n].clone().requires_grad_() for n in input_names]
    args = leaves + ([target] if target is not None else [])
    value = fn(*args, **kwargs)
    loss = as_loss(value, name)
    value.backward()
    grads = {f"grad_{n}": (leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)).detach().clone()
             for n, leaf in zip(input_names, leaves)}
    return {"loss": loss, **grads}


def build_tensors(**shapes):
    """Named random tensors: a shape, or (shape, scale)."""
    def build(g):
        inputs = {}
        for name, spec in shapes.items():
            shape, scale = spec if isinstance(spec[0], tuple) else (spec, 1.0)
            inputs[name] = randn(g, *shape, scale=scale)
        return inputs
    return build


def build_bce(shape, scale, target_kind):
    def build(g):
        logits = randn(g, *shape, scale=scale)
        if scale >= 1e3:   # extreme logits: every one at +-scale exactly
            logits = torch.where(logits > 0, torch.full_like(logits, scale), torch.full_like(logits, -scale))
        inputs = {"logits": logits}
        if target_kind == "binary":
            inputs["targets"] = (torch.rand(*shape, generator=g) > 0.5).float()
        elif target_kind == "soft":
            inputs["targets"] = uniform(g, 0, 1, *shape)
        return inputs
    return build


def call_bce(fn, inputs, number=None):
    target = inputs["targets"] if number is None else number
    return loss_call(fn, "bce_loss", inputs, "logits", target=target)


# train.py
class TinyD(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(12, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x):
        return self.net(x)


class TinyG(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 12), nn.Tanh())

    def forward(self, z):
        return self.net(z)


def grader_discriminator_loss(logits_real, logits_fake):
    return (F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
            + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))


def grader_generator_loss(logits_fake):
    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))


def grader_ls_discriminator_loss(scores_real, scores_fake):
    return 0.5 * ((scores_real - 1) ** 2).mean() + 0.5 * (scores_fake ** 2).mean()


def grader_ls_generator_loss(scores_fake):
    return 0.5 * ((scores_fake - 1) ** 2).mean()


def build_train_step(batch):
    def build(g):
        inputs = {**pack_weights(TinyD(), g, prefix="D."), **pack_weights(TinyG(), g, prefix="G.")}
        inputs.update({"real": uniform(g, -1, 1, batch, 12, dtype=torch.float64),
                       "noise_d": uniform(g, -1, 1, batch, 4, dtype=torch.float64),
                       "noise_g": uniform(g, -1, 1, batch, 4, dtype=torch.float64)})
        return inputs
    return build


def call_train_step(fn, inputs, least_squares=False, steps=1):
    """Float64 tiny models and the grader's own losses, so that Adam cannot magnify rounding
    (ASSIGNMENT.md). Counts how often gradients reach D and G: a missing detach shows."""
    D = load_weights(TinyD().double(), inputs, "D", prefix="D.")
    G = load_weights(TinyG().double(), inputs, "G", prefix="G.")
    D_solver = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    G_solver = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    backward_counts = {"D": 0, "G": 0}
    for name, model in (("D", D), ("G", G)):
        first = next(model.parameters())
        first.register_hook(lambda grad, name=name: backward_counts.__setitem__(name, backward_counts[name] + 1))
    d_fn, g_fn = ((grader_ls_discriminator_loss, grader_ls_generator_loss) if least_squares
                  else (grader_discriminator_loss, grader_generator_loss))
    losses = []
    for _ in range(steps):
        result = fn(D, G, D_solver, G_solver, inputs["real"], inputs["noise_d"], inputs["noise_g"], d_fn, g_fn)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise CaseError(f"gan_train_step returned {type(result).__name__}; a tuple (d_loss, g_loss) was expected")
        for what, value in zip(("d_loss", "g_loss"), result):
            if type(value) is not float:
                raise CaseError(f"gan_train_step returned {what} as {type(value).__name__}; "
                                "a Python float was expected (use .item())")
        losses.append(result)
    out = {"losses": torch.tensor(losses, dtype=torch.float64),
           "backward_counts": torch.tensor([backward_counts["D"], backward_counts["G"]])}
    for name, model in (("D", D), ("G", G)):
        for i, param in enumerate(model.parameters()):
            out[f"{name}.param{i}"] = param.detach().clone()
            out[f"{name}.grad{i}"] = (param.grad if param.grad is not None else torch.zeros_like(param)).detach().clone()
    return out


def build_optimizer(g):
    model = nn.Linear(3, 2)
    inputs = pack_weights(model, g, prefix="model.")
    for step in range(2):
        for i, param in enumerate(model.parameters()):
            inputs[f"grad{step}.{i}"] = randn(g, *param.shape, dtype=torch.float64)
    return inputs


def call_optimizer(fn, inputs):
    model = load_weights(nn.Linear(3, 2).double(), inputs, "model", prefix="model.")
    optimizer = fn(model)
    if type(optimizer) is not torch.optim.Adam:
        raise CaseError(f"get_optimizer returned {type(optimizer).__name__}; torch.optim.Adam was expected")
    params = list(model.parameters())
    covered = [p for group in optimizer.param_groups for p in group["params"]]
    if len(covered) != len(params) or any(p is not q for p, q in zip(covered, params)):
        raise CaseError("get_optimizer's Adam does not hold exactly the model's parameters")
    group = optimizer.param_groups[0]
    settings = torch.tensor([group["lr"], *group["betas"], group["eps"], group["weight_decay"], float(group["amsgrad"])],
                            dtype=torch.float64)
    for step in range(2):
        optimizer.zero_grad()
        for i, param in enumerate(params):
            param.grad = inputs[f"grad{step}.{i}"].clone()
        optimizer.step()
    return {"settings": settings, **{f"param{i}": p.detach().clone() for i, p in enumerate(params)}}


# ---------------------------------------------------------------------------
M = "gan.models."
L = "gan.losses."
T = "gan.train."

CASES = (
    # sample_noise: 0.25 point
    Case("sample_noise: batch 4, dim 96", M + "sample_noise", build_sample_noise(4, 96), call_sample_noise,
         points=0.125, seed=101, tolerance=ELEMENTWISE),
    Case("sample_noise: batch 1, dim 7", M + "sample_noise", build_sample_noise(1, 7), call_sample_noise,
         points=0.125, seed=102, hidden=True, tolerance=ELEMENTWISE),
    # Networks: 0.5 point each
    Case("Discriminator: images (B, 1, 28, 28)", M + "Discriminator", build_network(reference("Discriminator"), (3, 1, 28, 28)),
         lambda cls, i: call_network(cls, i, "Discriminator"), points=0.1875, seed=201, tolerance=NETWORK),
    Case("Discriminator: flat input (B, 784)", M + "Discriminator",
         build_network(reference("Discriminator"), (2, 784), 2.0),
         lambda cls, i: call_network(cls, i, "Discriminator"), points=0.125, seed=203, tolerance=NETWORK),
    Case("Discriminator: flat input, batch of 1", M + "Discriminator", build_network(reference("Discriminator"), (1, 784), 3.0),
         lambda cls, i: call_network(cls, i, "Discriminator"), points=0.1875, seed=202, hidden=True, tolerance=NETWORK),
    Case("Generator: default noise_dim", M + "Generator", build_network(reference("Generator"), (3, 96)),
         lambda cls, i: call_network(cls, i, "Generator"), points=0.1875, seed=301, tolerance=NETWORK),
    Case("Generator: noise_dim 16", M + "Generator", build_network(reference("Generator", 16), (2, 16), 2.0),
         lambda cls, i: call_network(cls, i, "Generator", (16,)), points=0.125, seed=303, tolerance=NETWORK),
    Case("Generator: noise_dim 10, batch of 1", M + "Generator", build_network(reference("Generator", 10), (1, 10), 4.0),
         lambda cls, i: call_network(cls, i, "Generator", (10,)), points=0.1875, seed=302, hidden=True,
         tolerance=NETWORK),
    Case("DCDiscriminator: images (B, 1, 28, 28)", M + "DCDiscriminator",
         build_network(reference("DCDiscriminator"), (2, 1, 28, 28)),
         lambda cls, i: call_network(cls, i, "DCDiscriminator"), points=0.1875, seed=401, tolerance=NETWORK),
    Case("DCDiscriminator: flat input (B, 784)", M + "DCDiscriminator",
         build_network(reference("DCDiscriminator"), (2, 784)),
         lambda cls, i: call_network(cls, i, "DCDiscriminator"), points=0.125, seed=403, tolerance=NETWORK),
    Case("DCDiscriminator: flat input, batch of 1", M + "DCDiscriminator",
         build_network(reference("DCDiscriminator"), (1, 784)),
         lambda cls, i: call_network(cls, i, "DCDiscriminator"), points=0.1875, seed=402, hidden=True,
         tolerance=NETWORK),
    Case("DCGenerator: eval mode", M + "DCGenerator", build_network(reference("DCGenerator"), (3, 96)),
         lambda cls, i: call_network(cls, i, "DCGenerator"), points=0.125, seed=501, tolerance=NETWORK),
    Case("DCGenerator: train mode, batch of 4", M + "DCGenerator", build_network(reference("DCGenerator"), (4, 96)),
         lambda cls, i: call_network(cls, i, "DCGenerator", train=True), points=0.0625, seed=504,
         tolerance=Tolerance(atol=1e-4, rtol=1e-4), note="BatchNorm over a small batch magnifies rounding"),
    Case("DCGenerator: noise_dim 20, eval", M + "DCGenerator", build_network(reference("DCGenerator", 20), (2, 20)),
         lambda cls, i: call_network(cls, i, "DCGenerator", (20,)), points=0.0625, seed=505, tolerance=NETWORK),
    Case("DCGenerator: train mode, batch of 8", M + "DCGenerator", build_network(reference("DCGenerator"), (8, 96)),
         lambda cls, i: call_network(cls, i, "DCGenerator", train=True), points=0.125, seed=502, hidden=True,
         tolerance=Tolerance(atol=1e-4, rtol=1e-4),
         note="BatchNorm over a small batch magnifies rounding: 4e-5 to 1e-4 measured with 2 samples"),
    Case("DCGenerator: noise_dim 12, eval, batch of 1", M + "DCGenerator",
         build_network(reference("DCGenerator", 12), (1, 12)),
         lambda cls, i: call_network(cls, i, "DCGenerator", (12,)), points=0.125, seed=503, hidden=True,
         tolerance=NETWORK),
    # bce_loss: 0.5 point
    Case("bce_loss: binary targets", L + "bce_loss", build_bce((4, 1), 3.0, "binary"), call_bce,
         points=0.09375, seed=601, tolerance=REDUCTION),
    Case("bce_loss: extreme logits +-1e3", L + "bce_loss", build_bce((4, 2), 1e3, "binary"), call_bce,
         points=0.125, seed=605, tolerance=REDUCTION,
         note="a naive log(sigmoid) already gives inf and nan here; with the hidden +-1e4 case, half the points"),
    Case("bce_loss: soft targets in [0, 1]", L + "bce_loss", build_bce((2, 4), 2.0, "soft"), call_bce,
         points=0.046875, seed=606, tolerance=REDUCTION),
    Case("bce_loss: target given as the number 0", L + "bce_loss", build_bce((3, 1), 3.0, None),
         lambda fn, i: call_bce(fn, i, number=0), points=0.046875, seed=607, tolerance=REDUCTION),
    Case("bce_loss: extreme logits +-1e4", L + "bce_loss", build_bce((6, 1), 1e4, "binary"), call_bce,
         points=0.125, seed=602, hidden=True, tolerance=REDUCTION,
         note="with the public +-1e3 case, half the points: stability is the point of the exercise"),
    Case("bce_loss: soft targets", L + "bce_loss", build_bce((3, 5), 2.0, "soft"), call_bce,
         points=0.03125, seed=603, hidden=True, tolerance=REDUCTION),
    Case("bce_loss: target given as a number", L + "bce_loss", build_bce((5, 1), 4.0, None),
         lambda fn, i: call_bce(fn, i, number=1), points=0.03125, seed=604, hidden=True, tolerance=REDUCTION),
    # discriminator_loss: 0.375 point
    Case("discriminator_loss: batch of 4", L + "discriminator_loss", build_tensors(logits_real=((4, 1), 2.0), logits_fake=((4, 1), 2.0)),
         lambda fn, i: loss_call(fn, "discriminator_loss", i, "logits_real", "logits_fake"), points=0.125, seed=701,
         tolerance=REDUCTION),
    Case("discriminator_loss: confidently wrong, logits +-14 to +-16.5", L + "discriminator_loss",
         lambda g: {"logits_real": uniform(g, -16.5, -14, 4, 1), "logits_fake": uniform(g, 14, 16.5, 4, 1)},
         lambda fn, i: loss_call(fn, "discriminator_loss", i, "logits_real", "logits_fake"), points=0.09375, seed=704,
         tolerance=REDUCTION,
         note="1 - sigmoid(x) keeps one or two digits in float32 here, before it rounds to 0 near 17: "
              "a naive log(sigmoid) BCE is finite but 3e-3 off (30x the tolerance)"),
    Case("discriminator_loss: different batch sizes", L + "discriminator_loss",
         build_tensors(logits_real=((3, 1), 5.0), logits_fake=((7, 1), 5.0)),
         lambda fn, i: loss_call(fn, "discriminator_loss", i, "logits_real", "logits_fake"), points=0.0625, seed=702,
         hidden=True, tolerance=REDUCTION),
    Case("discriminator_loss: extreme logits", L + "discriminator_loss",
         build_tensors(logits_real=((5, 1), 3000.0), logits_fake=((5, 1), 3000.0)),
         lambda fn, i: loss_call(fn, "discriminator_loss", i, "logits_real", "logits_fake"), points=0.09375, seed=703,
         hidden=True, tolerance=REDUCTION),
    # generator_loss: 0.25 point
    Case("generator_loss: batch of 4", L + "generator_loss", build_tensors(logits_fake=((4, 1), 2.0)),
         lambda fn, i: loss_call(fn, "generator_loss", i, "logits_fake"), points=0.09375, seed=801,
         tolerance=REDUCTION),
    Case("generator_loss: logits in the hundreds", L + "generator_loss", build_tensors(logits_fake=((4, 1), 300.0)),
         lambda fn, i: loss_call(fn, "generator_loss", i, "logits_fake"), points=0.0625, seed=803, tolerance=REDUCTION),
    Case("generator_loss: extreme logits", L + "generator_loss", build_tensors(logits_fake=((6, 1), 3000.0)),
         lambda fn, i: loss_call(fn, "generator_loss", i, "logits_fake"), points=0.09375, seed=802, hidden=True,
         tolerance=REDUCTION),
    # least squares: 0.25 point each
    Case("ls_discriminator_loss: batch of 4", L + "ls_discriminator_loss", build_tensors(scores_real=(4, 1), scores_fake=(4, 1)),
         lambda fn, i: loss_call(fn, "ls_discriminator_loss", i, "scores_real", "scores_fake"), points=0.125, seed=901,
         tolerance=REDUCTION),
    Case("ls_discriminator_loss: different batch sizes", L + "ls_discriminator_loss",
         build_tensors(scores_real=((2, 1), 3.0), scores_fake=((5, 1), 3.0)),
         lambda fn, i: loss_call(fn, "ls_discriminator_loss", i, "scores_real", "scores_fake"), points=0.125, seed=902,
         hidden=True, tolerance=REDUCTION),
    Case("ls_generator_loss: batch of 4", L + "ls_generator_loss", build_tensors(scores_fake=(4, 1)),
         lambda fn, i: loss_call(fn, "ls_generator_loss", i, "scores_fake"), points=0.125, seed=1001, tolerance=REDUCTION),
    Case("ls_generator_loss: batch of 1", L + "ls_generator_loss", build_tensors(scores_fake=((1, 1), 3.0)),
         lambda fn, i: loss_call(fn, "ls_generator_loss", i, "scores_fake"), points=0.125, seed=1002, hidden=True,
         tolerance=REDUCTION),
    # cycle_consistency_loss: 0.375 point
    Case("cycle_consistency_loss: default lambda", L + "cycle_consistency_loss",
         build_tensors(real_x=(2, 1, 4, 4), cycled_x=(2, 1, 4, 4), real_y=(2, 1, 4, 4), cycled_y=(2, 1, 4, 4)),
         lambda fn, i: loss_call(fn, "cycle_consistency_loss", i, "real_x", "cycled_x", "real_y", "cycled_y"),
         points=0.125, seed=1101, tolerance=REDUCTION),
    Case("cycle_consistency_loss: lambda 0.5", L + "cycle_consistency_loss",
         build_tensors(real_x=(2, 3, 2, 2), cycled_x=(2, 3, 2, 2), real_y=(2, 3, 2, 2), cycled_y=(2, 3, 2, 2)),
         lambda fn, i: loss_call(fn, "cycle_consistency_loss", i, "real_x", "cycled_x", "real_y", "cycled_y",
                                 lambda_cyc=0.5),
         points=0.125, seed=1103, tolerance=REDUCTION),
    Case("cycle_consistency_loss: lambda 2.5, different shapes", L + "cycle_consistency_loss",
         build_tensors(real_x=(3, 2, 3, 5), cycled_x=(3, 2, 3, 5), real_y=(1, 1, 6, 2), cycled_y=(1, 1, 6, 2)),
         lambda fn, i: loss_call(fn, "cycle_consistency_loss", i, "real_x", "cycled_x", "real_y", "cycled_y",
                                 lambda_cyc=2.5),
         points=0.125, seed=1102, hidden=True, tolerance=REDUCTION),
    # train.py: 0.75 point (get_optimizer 0.25, gan_train_step 0.5)
    Case("get_optimizer: Adam settings and two steps", T + "get_optimizer", build_optimizer, call_optimizer,
         points=0.25, seed=1201, tolerance=FLOAT64),
    Case("gan_train_step: vanilla losses", T + "gan_train_step", build_train_step(4), call_train_step,
         points=0.1875, seed=1301, tolerance=FLOAT64),
    Case("gan_train_step: vanilla losses, two steps", T + "gan_train_step", build_train_step(2),
         lambda fn, i: call_train_step(fn, i, steps=2), points=0.125, seed=1303, tolerance=FLOAT64),
    Case("gan_train_step: least squares losses, two steps", T + "gan_train_step", build_train_step(3),
         lambda fn, i: call_train_step(fn, i, least_squares=True, steps=2), points=0.1875, seed=1302, hidden=True,
         tolerance=FLOAT64),
)

# The losses built on bce_loss may not reach torch's BCE either.
CASES = tuple(replace(case, forbidden=BCE_BUILTINS)
              if case.function in ("bce_loss", "discriminator_loss", "generator_loss") else case for case in CASES)

# CPU seconds per case (Case's default: 1 s). See TOLERANCES.md, "Time limits", for the measurements:
# the DC models build millions of weights (0.04-0.16 s for the reference), the losses and
# sample_noise take milliseconds even written with Python loops.
CASES = with_time_limits(CASES, {
    "DCGenerator": 2.0, "DCDiscriminator": 2.0,
    "sample_noise": 0.5, "bce_loss": 0.5, "discriminator_loss": 0.5, "generator_loss": 0.5,
    "ls_discriminator_loss": 0.5, "ls_generator_loss": 0.5, "cycle_consistency_loss": 0.5, "get_optimizer": 0.5,
})

PART = Part(
    key="part1",
    assignment="hw4",
    title="HW4: Part 1 GANs",
    package="gan",
    files=("gan/models.py", "gan/losses.py", "gan/train.py"),
    total_points=5.0,
    cases=CASES,
    notebook="hw4-part1.ipynb",
    mistakes="autograder.hw4.mistakes",
    environment=ENVIRONMENT,
    warmup=partial(warm_up_torch, adam=True),
)
