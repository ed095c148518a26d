"""Reference data: reproducible to the byte (settled against the committed data, whatever this
machine's CPU), consistent with the case tables and the manifest."""
import hashlib
import importlib
import json

import pytest

from autograder.engine.generate import (AGREEMENT, INPUT_ULPS, MISTAKE_AGREEMENT, Prior, _save_inputs, generate,
                                        input_tolerances)
from conftest import PARTS, REPO


@pytest.mark.parametrize("part", sorted(PARTS))
def test_regenerating_gives_the_same_bytes(part, tmp_path):
    """Every output this machine computes agrees with the committed one to within AGREEMENT of its
    tolerance (so the committed bytes are kept), and everything else is byte for byte the same."""
    committed = REPO / "reference_data" / part
    generate(PARTS[part], REPO / "solution" / part, tmp_path / part, Prior(committed))
    made = sorted(p.relative_to(tmp_path / part) for p in (tmp_path / part).rglob("*") if p.is_file())
    present = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert made == present
    for rel in made:
        assert (tmp_path / part / rel).read_bytes() == (committed / rel).read_bytes(), rel


def _settled(tmp_path, old, new, tolerances, *settling):
    """What Prior.settle writes for `new` (tensors) where `old` (tensors) is in place."""
    from safetensors.torch import save

    (tmp_path / "expected").mkdir(exist_ok=True)
    (tmp_path / "expected" / "case.safetensors").write_bytes(save(old))
    prior = Prior(tmp_path)
    written = prior.settle("expected/case.safetensors", save(new), tolerances, *settling)
    return {save(old): "old", save(new): "new"}[written], prior.kept


def test_outputs_within_a_tenth_of_their_tolerance_keep_the_bytes_in_place(tmp_path):
    import torch

    atol, rtol = 1e-5, 1e-4
    old = torch.tensor([0.0, 1e-3, -2.0, 50.0, float("nan"), float("inf")])
    bound = atol + rtol * old.abs()
    finite = torch.isfinite(old)
    step = torch.where(finite, bound, torch.zeros(()))
    tolerances = {"default": [atol, rtol]}
    assert _settled(tmp_path, {"out": old}, {"out": old + 0.9 * AGREEMENT * step}, tolerances) == ("old", 1)
    assert _settled(tmp_path, {"out": old}, {"out": old - 1.1 * AGREEMENT * step}, tolerances) == ("new", 0)
    # a tolerance of the output's own is the one that counts
    loose = {"default": [atol, rtol], "out": [10 * atol, 10 * rtol]}
    assert _settled(tmp_path, {"out": old}, {"out": old - 1.1 * AGREEMENT * step}, loose) == ("old", 1)
    # anything else than values close enough is rewritten: shape, dtype, names, non-finite places
    assert _settled(tmp_path, {"out": old}, {"out": old[:5]}, tolerances)[0] == "new"
    assert _settled(tmp_path, {"out": old}, {"out": old.double()}, tolerances)[0] == "new"
    assert _settled(tmp_path, {"out": old}, {"other": old}, tolerances)[0] == "new"
    assert _settled(tmp_path, {"out": old}, {"out": torch.where(finite, old, torch.zeros(()))}, tolerances)[0] == "new"
    # a known mistake's outputs: within MISTAKE_AGREEMENT, and their non-finite values may move
    moved = torch.where(finite, old, torch.zeros(()))
    assert _settled(tmp_path, {"out": old}, {"out": old + 0.9 * MISTAKE_AGREEMENT * step}, tolerances,
                    MISTAKE_AGREEMENT, True) == ("old", 1)
    assert _settled(tmp_path, {"out": old}, {"out": old + 1.1 * MISTAKE_AGREEMENT * step}, tolerances,
                    MISTAKE_AGREEMENT, True) == ("new", 0)
    assert _settled(tmp_path, {"out": old}, {"out": moved}, tolerances, MISTAKE_AGREEMENT, True) == ("old", 1)
    assert _settled(tmp_path, {"out": old}, {"out": moved + 1.0}, tolerances, MISTAKE_AGREEMENT, True)[0] == "new"


def test_inputs_within_a_few_units_in_the_last_place_keep_the_bytes_and_feed_the_reference(tmp_path):
    """A computed input (part 2's schedules) that rounds differently here keeps the bytes in place,
    and the reference then runs on those; a changed input, or any change of an integer one, is rewritten."""
    import types

    import torch
    from safetensors.torch import save

    old = {"sched": torch.tensor([0.25, 0.5, 0.999, 3.0]), "t": torch.tensor([1, 7]),
           "wide": torch.tensor([0.7, 1e-3], dtype=torch.float64)}
    case = types.SimpleNamespace(id="case")
    (tmp_path / "prior" / "inputs").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    (tmp_path / "prior" / "inputs" / "case.safetensors").write_bytes(save(old))

    def written(new):
        prior = Prior(tmp_path / "prior")
        path, tensors = _save_inputs(case, new, tmp_path / "out", prior)
        assert path.read_bytes() == save(tensors)
        return "old" if path.read_bytes() == save(old) else "new"

    one_ulp = {**old, "sched": torch.nextafter(old["sched"], torch.tensor(10.0)),
               "wide": torch.nextafter(old["wide"], torch.tensor(10.0, dtype=torch.float64))}
    assert written(one_ulp) == "old"
    assert written({**old, "sched": old["sched"] * (1 + 2 * INPUT_ULPS * torch.finfo(torch.float32).eps)}) == "new"
    assert written({**old, "t": old["t"] + 1}) == "new"
    assert written({**old, "sched": old["sched"][:3]}) == "new"
    assert "t" not in input_tolerances(old) and input_tolerances(old)["default"] == [0.0, 0.0]


@pytest.mark.parametrize("part", sorted(PARTS))
def test_manifest_matches_table(part, manifests):
    table = importlib.import_module(PARTS[part]).PART
    manifest = manifests[part]
    assert [c["id"] for c in manifest["cases"]] == [c.id for c in table.cases]
    assert sum(c["points"] for c in manifest["cases"]) == table.total_points == {"part1": 5, "part2": 14}[part]
    for case in manifest["cases"]:
        for key in ("inputs", "expected"):
            digest = hashlib.sha256((REPO / "reference_data" / part / case[key]).read_bytes()).hexdigest()
            assert digest == case[f"{key}_sha256"]
        assert case["name"].startswith(case["function"] + ": ")
        assert case["visibility"] in ("visible", "hidden", "after_due_date", "after_published")


@pytest.mark.parametrize("part", sorted(PARTS))
def test_every_graded_name_has_public_and_hidden_cases(part, manifests):
    by_function = {}
    for case in manifests[part]["cases"]:
        by_function.setdefault(case["function"], set()).add(case["hidden"])
    lonely = {f for f, kinds in by_function.items() if kinds != {True, False} and f != "get_optimizer"}
    assert not lonely, f"graded names without both public and hidden cases: {lonely}"


def test_every_graded_name_of_the_assignment_is_covered(manifests):
    expected = {
        "part1": {"sample_noise", "Discriminator", "Generator", "DCDiscriminator", "DCGenerator", "bce_loss",
                  "discriminator_loss", "generator_loss", "ls_discriminator_loss", "ls_generator_loss",
                  "cycle_consistency_loss", "get_optimizer", "gan_train_step"},
        "part2": {"linear_beta_schedule", "cosine_beta_schedule", "make_schedule", "extract", "q_sample",
                  "predict_start_from_noise", "q_posterior_mean", "p_losses", "p_sample", "p_sample_loop",
                  "ddim_step", "ddim_sample_loop", "classifier_free_guidance", "SinusoidalPositionEmbeddings",
                  "Attention", "ResnetBlock", "reparameterize", "kl_divergence", "vae_loss"},
    }
    for part, names in expected.items():
        assert {c["function"] for c in manifests[part]["cases"]} == names


def test_manifest_is_plain_json_without_paths(manifests):
    for manifest in manifests.values():
        text = json.dumps(manifest)
        assert str(REPO) not in text
