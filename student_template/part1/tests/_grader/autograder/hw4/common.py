"""Helpers shared by the HW4 case tables: checking what a submission returns,
loading reference weights by parameter order, and seeded random inputs.

Runs in the trusted generator (with the reference solution) and in the sandboxed
worker (with the student's code).
"""
import math

import torch
from torch import nn

from autograder.engine.case import CaseError

WEIGHT_PREFIX = "weights."


def describe(value) -> str:
    """A short description of a value's type, for messages."""
    if isinstance(value, torch.Tensor):
        return f"a {type(value).__name__} of shape {tuple(value.shape)}"
    return f"a {type(value).__module__}.{type(value).__qualname__}"


def as_output(value, what: str) -> torch.Tensor:
    """Accept exactly a torch.Tensor (no subclass, no array, no list) and detach it."""
    if type(value) is not torch.Tensor:
        raise CaseError(f"{what} returned {describe(value)}; a torch.Tensor was expected")
    return value.detach().cpu().clone()


def as_loss(value, what: str) -> torch.Tensor:
    """A loss must be a 0-dim tensor connected to the autograd graph."""
    out = as_output(value, what)
    if value.dim() != 0:
        raise CaseError(f"{what} returned a tensor of shape {tuple(value.shape)}; a 0-dim tensor (a scalar loss) was expected")
    if not value.requires_grad:
        raise CaseError(f"{what} returned a loss that does not depend on its inputs through autograd "
                        "(was .item(), .detach() or torch.no_grad() used?), so backward() cannot work")
    return out


# Weights are not stored: a DC model has millions of them. A case stores a seed plus
# each parameter's shape and kind, and both sides regenerate the same tensors.
MATRIX, SCALE, BIAS = 0, 1, 2
MAX_DIMS = 4


def pack_weights(module: nn.Module, generator: torch.Generator, prefix: str = WEIGHT_PREFIX) -> dict:
    """Inputs that describe seeded weights for `module`'s parameters, in registration order."""
    shapes, kinds = [], []
    for name, param in module.named_parameters():
        shapes.append(list(param.shape) + [-1] * (MAX_DIMS - param.dim()))
        kinds.append(MATRIX if param.dim() > 1 else SCALE if name.endswith("weight") else BIAS)
    return {f"{prefix}seed": torch.randint(0, 2 ** 31 - 1, (1,), generator=generator),
            f"{prefix}shapes": torch.tensor(shapes, dtype=torch.long).reshape(-1, MAX_DIMS),
            f"{prefix}kinds": torch.tensor(kinds, dtype=torch.long)}


def weights_from(inputs: dict, prefix: str = WEIGHT_PREFIX) -> list:
    """The weights that pack_weights described: default-like init, norm layers near identity."""
    generator = torch.Generator().manual_seed(int(inputs[f"{prefix}seed"].item()))
    weights = []
    for row, kind in zip(inputs[f"{prefix}shapes"].tolist(), inputs[f"{prefix}kinds"].tolist()):
        shape = [size for size in row if size >= 0]
        if kind == MATRIX:
            bound = 1.0 / math.sqrt(math.prod(shape[1:]))
            weights.append((torch.rand(shape, generator=generator) * 2 - 1) * bound)
        elif kind == SCALE:
            weights.append(1 + 0.1 * torch.randn(shape, generator=generator))
        else:
            weights.append(0.1 * torch.randn(shape, generator=generator))
    return weights


def load_weights(model, inputs: dict, what: str, prefix: str = WEIGHT_PREFIX) -> nn.Module:
    """Copy the case's weights into `model` by parameter order and shape."""
    if not isinstance(model, nn.Module):
        raise CaseError(f"{what} did not create a torch.nn.Module but {describe(model)}")
    weights = weights_from(inputs, prefix)
    params = list(model.parameters())
    got = [tuple(p.shape) for p in params]
    want = [tuple(w.shape) for w in weights]
    if got != want:
        raise CaseError(
            f"{what} registers {len(got)} parameter tensors with shapes {got}; "
            f"the layers of the assignment, in their order, have {len(want)}: {want}"
        )
    with torch.no_grad():
        for param, weight in zip(params, weights):
            param.copy_(weight.to(param.dtype))
    return model


def randn(generator, *shape, dtype=torch.float32, scale=1.0):
    return (torch.randn(*shape, generator=generator, dtype=torch.float64) * scale).to(dtype)


def uniform(generator, low, high, *shape, dtype=torch.float32):
    return (low + (high - low) * torch.rand(*shape, generator=generator, dtype=torch.float64)).to(dtype)


def generator_from(inputs: dict, key: str = "seed") -> torch.Generator:
    """A torch.Generator seeded from an int64 input, so that sampling loops are reproducible."""
    generator = torch.Generator()
    generator.manual_seed(int(inputs[key].item()))
    return generator


def with_time_limits(cases, seconds_by_function: dict):
    """The cases with the CPU-time limits of their function (the others keep Case's default)."""
    from dataclasses import replace
    return tuple(replace(case, timeout=seconds_by_function[case.function])
                 if case.function in seconds_by_function else case for case in cases)


def warm_up_torch(adam: bool = False):
    """Run once in the worker before any case: the first Adam step imports torch._dynamo
    (seconds on a slow machine), and the first conv, norm and backward set up kernels."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.GroupNorm(1, 2), nn.SiLU(), nn.ConvTranspose2d(2, 1, 4, 2, 1),
                          nn.Flatten(), nn.Linear(36, 4), nn.BatchNorm1d(4), nn.LeakyReLU(0.01))
    loss = model(torch.randn(2, 1, 3, 3, generator=torch.Generator().manual_seed(0))).pow(2).mean()
    loss.backward()
    if adam:
        torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999)).step()
