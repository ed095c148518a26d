"""Equivalent mutants: the ones no case can catch because they compute the same graded values.

Two kinds, both left out of the score when they survive:
- the EQUIVALENT table, reviewed by hand, each entry with its reason;
- swaps of statements that provably cannot affect each other, found automatically
  (`independent`): neither reads or writes what the other writes, at most one has side
  effects, and neither can leave the block.
An entry whose mutant is caught after all is stale, and so is one that matches no mutant
(the solution was edited): the report lists the first, tests/test_mutation.py fails on the second.
"""
import ast
from dataclasses import dataclass
from typing import Iterable, List, Optional, Set, Tuple

from autograder.tools.mutation.syntax import DRAWS, MODULES, base_name, call_name

AUTOMATIC_REASON = ("independent statements (found automatically): neither reads or writes what the other "
                    "writes and at most one has side effects, so the order cannot change any value")


@dataclass(frozen=True)
class Equivalent:
    """A mutant that no case can catch because it computes the same graded values."""

    function: str       # graded name, as in the case table
    mutation: str       # the mutant's description, exactly as the report prints it
    reason: str


# Known-equivalent mutants, reviewed by hand. A mutant listed here is left out of the
# score if it survives; if a case catches it after all, the report says the entry is stale
# (and tests/test_mutation.py fails for an entry that matches no mutant any more).
_CPU = "the grader runs on CPU, where the tensor is already on that device"
_SEQ = "in `nn.Sequential(...)`, swap arguments"
EQUIVALENT: Tuple[Equivalent, ...] = (
    # gan/models.py
    Equivalent("DCDiscriminator", f"{_SEQ} 2 and 3: `nn.LeakyReLU(0.01)` and `nn.MaxPool2d(2, 2)`",
               "LeakyReLU is increasing, so it commutes with max pooling: same output"),
    Equivalent("DCDiscriminator", f"{_SEQ} 5 and 6: `nn.LeakyReLU(0.01)` and `nn.MaxPool2d(2, 2)`",
               "LeakyReLU is increasing, so it commutes with max pooling: same output"),
    Equivalent("DCDiscriminator", "`stride=1` removed from `nn.Conv2d(1, 32, 5)`", "stride 1 is Conv2d's default"),
    Equivalent("DCDiscriminator", "`stride=1` removed from `nn.Conv2d(32, 64, 5)`", "stride 1 is Conv2d's default"),
    Equivalent("DCGenerator", f"{_SEQ} 12 and 13: `nn.Tanh()` and `nn.Flatten()`",
               "an element-wise function commutes with a reshape"),
    # gan/losses.py
    Equivalent("bce_loss", "swap `targets = torch.as_tensor(targets, ... =logits.device).expand_as(logits)` and "
               "`loss = logits.clamp(min=0) - logit ... h.log1p(torch.exp(-logits.abs()))`",
               "targets is only used in `logits * targets`, which broadcasts a Python number or a same-shaped tensor "
               "to the same values; only a target tensor of a wider dtype than the logits (outside the contract's "
               "one-dtype convention) would differ"),
    Equivalent("bce_loss", "delete `targets = torch.as_tensor(targets, ... =logits.device).expand_as(logits)`",
               "as above: `logits * targets` gives the same values without the conversion for every input the "
               "contract allows"),
    Equivalent("bce_loss", "`dtype=logits.dtype` removed from `torch.as_tensor(targets, device=logits.device)`",
               "a float32 tensor target is unchanged; a Python-number target becomes float32 and is promoted by "
               "`logits * targets`: the same values up to float32 rounding of the number, far below tolerance"),
    Equivalent("bce_loss", "`device=logits.device` removed from `torch.as_tensor(targets, dtype=logits.dtype)`", _CPU),
    # gan/train.py
    Equivalent("get_optimizer", "`lr=0.001` removed from `torch.optim.Adam(model.parameters(), betas=(0.5, 0.999))`",
               "1e-3 is Adam's default learning rate"),
    # diffusion/schedules.py
    Equivalent("linear_beta_schedule",
               "`dtype=torch.float32` removed from `torch.linspace(beta_start, beta_end, timesteps)`",
               "float32 is torch's default dtype"),
    Equivalent("cosine_beta_schedule", "`dtype=torch.float32` removed from `torch.linspace(0, timesteps, steps)`",
               "float32 is torch's default dtype"),
    Equivalent("cosine_beta_schedule", "negate `torch.cos((x / timesteps + s) / (1 + s) * math.pi * 0.5) ** 2`",
               "alphas_cumprod = f / f[0] does not change when f changes sign"),
    Equivalent("cosine_beta_schedule", "negate `f / f[0]`",
               "betas only use ratios alphas_cumprod[1:] / alphas_cumprod[:-1], which a common sign leaves alone"),
    Equivalent("cosine_beta_schedule", "`f / f[0]`: `/` -> `*`",
               "betas only use ratios of alphas_cumprod, in which the constant factor f[0] cancels"),
    Equivalent("cosine_beta_schedule", "`0` -> `1` in `f[0]`",
               "betas only use ratios of alphas_cumprod, in which the constant divisor cancels"),
    Equivalent("cosine_beta_schedule", "`0.5` -> `-0.5` in `(x / timesteps + s) / (1 + s) * math.pi * 0.5`",
               "cos is even (and squared)"),
    # diffusion/ddpm.py
    Equivalent("make_schedule", "`torch.cumprod(alphas, dim=0)` -> `torch.cumprod(alphas, dim=-1)`",
               "betas is 1-d: dim 0 is dim -1"),
    Equivalent("p_losses", "swap `if loss_type == 'l1': ...` and `if loss_type == 'l2': ...`",
               "the two conditions cannot both hold"),
    Equivalent("p_losses", "swap `if loss_type == 'l2': ...` and `if loss_type == 'huber': ...`",
               "the two conditions cannot both hold"),
    Equivalent("p_losses", "in `F.l1_loss(...)`, swap arguments 1 and 2: `noise` and `predicted_noise`",
               "the L1 loss is symmetric in its two arguments"),
    Equivalent("p_losses", "in `F.mse_loss(...)`, swap arguments 1 and 2: `noise` and `predicted_noise`",
               "the squared error is symmetric in its two arguments"),
    Equivalent("p_losses", "in `F.smooth_l1_loss(...)`, swap arguments 1 and 2: `noise` and `predicted_noise`",
               "the Huber loss is symmetric in its two arguments"),
    Equivalent("p_losses", "`beta=1.0` removed from `F.smooth_l1_loss(noise, predicted_noise)`",
               "beta 1.0 is smooth_l1_loss's default"),
    Equivalent("p_sample_loop", "`dtype=torch.long` removed from `torch.full((shape[0],), i)`",
               "torch.full infers int64 from an integer fill value"),
    Equivalent("ddim_step", "swap `alphas_cumprod = sched['alphas_cumprod'].to(t.device)` and "
               "`def alphas_cumprod_at(steps): ...`",
               "the nested function reads alphas_cumprod when it is called, after both statements"),
    Equivalent("ddim_step", "`steps.clamp(min=0)` -> `steps`",
               "index -1 is valid (the last entry) and torch.where replaces those entries with 1 anyway"),
    Equivalent("ddim_step", "`0` -> `1` in `alphas_cumprod[0]`",
               "torch.ones_like uses only the entry's dtype and device, not its value"),
    Equivalent("ddim_sample_loop", "`dtype=torch.long` removed from `torch.full((shape[0],), timesteps[index])`",
               "torch.full infers int64 from an integer fill value"),
    Equivalent("ddim_sample_loop", "`dtype=torch.long` removed from "
               "`torch.full((shape[0],), timesteps[index - 1] if index > 0 else -1)`",
               "torch.full infers int64 from an integer fill value"),
    Equivalent("ddim_sample_loop", "`-1` -> `-2` in `timesteps[index - 1] if index > 0 else -1`",
               "the file's ddim_step (which the loop calls) treats every negative t_prev as 'before the first step'"),
    Equivalent("classifier_free_guidance", "swap `eps_cond = model(x, t, cond)` and `eps_uncond = model(x, t, None)`",
               "the model is a deterministic function of its inputs (the contract fixes no call order)"),
    # diffusion/unet.py
    Equivalent("SinusoidalPositionEmbeddings", "`self.dim // 2`: `//` -> `/`",
               "dim is even (contract): dim / 2 has the same value, and arange of it gives the same numbers"),
    Equivalent("SinusoidalPositionEmbeddings", "`torch.cat((args.sin(), args.cos()), dim=-1)` -> "
               "`torch.cat((args.sin(), args.cos()), dim=1)`", "args is 2-d: dim 1 is dim -1"),
    Equivalent("SinusoidalPositionEmbeddings", "`time[:, None].float()` -> `time[:, None]`",
               "int64 times a float32 tensor is float32 with the same values (timesteps are exact in float32)"),
    Equivalent("SinusoidalPositionEmbeddings", "`device=time.device` removed from `torch.arange(half_dim)`", _CPU),
    Equivalent("Attention", "swap `q, k, v = (part.reshape(b, self.he ... ad, h * w) for part in (q, k, v))` and "
               "`q = q * self.scale`", "scaling by a number commutes with a reshape"),
    Equivalent("Attention", "in `part.reshape(...)`, swap arguments 1 and 2: `b` and `self.heads`",
               "q, k and v are regrouped alike, attention runs per (sample, head) block, and the output reshape "
               "puts every block back where it came from: the same output"),
    Equivalent("ResnetBlock", "swap `self.res_conv = nn.Conv2d(dim, dim ... dim != dim_out else nn.Identity()` and "
               "`self.act = nn.SiLU()`", "SiLU has no parameters: the parameter order does not change"),
    # diffusion/vae.py
    Equivalent("kl_divergence", "`(1 + logvar - mu.pow(2) - logvar.exp()).flatten(1).sum(dim=1)` -> "
               "`(1 + logvar - mu.pow(2) - logvar.exp()).flatten(1).sum(dim=-1)`",
               "after flatten(1) the tensor is 2-d: dim 1 is dim -1"),
    Equivalent("vae_loss", "`(recon_x - x).pow(2).flatten(1).sum(dim=1)` -> "
               "`(recon_x - x).pow(2).flatten(1).sum(dim=-1)`", "after flatten(1) the tensor is 2-d: dim 1 is dim -1"),
)


def equivalence_of(mutant) -> Optional[str]:
    """The EQUIVALENT table's reason for `mutant` (a mutants.Mutant), or None."""
    for entry in EQUIVALENT:
        if entry.function == mutant.function and entry.mutation == mutant.description:
            return entry.reason
    return None


def reason_if_survivor(mutant) -> Optional[str]:
    """Why a mutant that survived is equivalent: the table's reason, the automatic one, or None."""
    reason = equivalence_of(mutant)
    if reason is None and mutant.independent:
        reason = AUTOMATIC_REASON
    return reason


def entries_matching_no_mutant(mutants: Iterable) -> List[Equivalent]:
    """EQUIVALENT entries whose mutant no longer exists (the solution was edited): stale."""
    existing = {(mutant.function, mutant.description) for mutant in mutants}
    return [entry for entry in EQUIVALENT if (entry.function, entry.mutation) not in existing]


# -- independent statements ------------------------------------------------------------------
@dataclass
class Effects:
    """What a statement does, conservatively: the names it reads and writes, and whether it has
    side effects that the order of two statements could change (a draw, a call of a model)."""

    reads: Set[str]
    writes: Set[str]
    side_effects: bool


def effects_of(stmt: ast.stmt, callables_with_effects: Set[str]) -> Effects:
    """`callables_with_effects` are names whose calls may have side effects: the enclosing
    function's parameters (a model, a loss function) and the module's functions that draw."""
    effects = Effects(set(), set(), False)
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Yield, ast.YieldFrom,
                             ast.Global, ast.Nonlocal)):
            effects.side_effects = True              # leaves the block: the order of the two matters
            effects.writes.add("<control flow>")
        if isinstance(node, ast.Name):
            (effects.writes if isinstance(node.ctx, (ast.Store, ast.Del)) else effects.reads).add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            effects.writes.add(base_name(node))
        elif isinstance(node, ast.Call):
            if call_name(node) in DRAWS:
                effects.side_effects = True
            if isinstance(node.func, ast.Attribute) and base_name(node.func) not in MODULES:
                effects.writes.add(base_name(node.func))   # a method may change its object (append, step, BatchNorm)
            if isinstance(node.func, ast.Name) and node.func.id in callables_with_effects:
                effects.side_effects = True                # a model or loss function passed in
    effects.writes.discard(None)
    return effects


def independent(first: ast.stmt, second: ast.stmt, callables_with_effects: Set[str]) -> bool:
    """Neither statement reads or writes what the other writes, at most one has side effects, and
    neither can leave the block (return, raise, break): then their order cannot change anything."""
    one, other = effects_of(first, callables_with_effects), effects_of(second, callables_with_effects)
    return (not (one.writes & (other.reads | other.writes)) and not (other.writes & one.reads)
            and not (one.side_effects and other.side_effects))
