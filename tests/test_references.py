"""Reference data: reproducible to the byte, consistent with the case tables and the manifest."""
import hashlib
import importlib
import json

import pytest

from autograder.engine.generate import generate
from conftest import PARTS, REPO


@pytest.mark.parametrize("part", sorted(PARTS))
def test_regenerating_gives_the_same_bytes(part, tmp_path):
    generate(PARTS[part], REPO / "solution" / part, tmp_path / part)
    committed = REPO / "reference_data" / part
    made = sorted(p.relative_to(tmp_path / part) for p in (tmp_path / part).rglob("*") if p.is_file())
    present = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert made == present
    for rel in made:
        assert (tmp_path / part / rel).read_bytes() == (committed / rel).read_bytes(), rel


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
