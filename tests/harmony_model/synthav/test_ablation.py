import json

from harmony_model.synthav.ablation import QUICK, config_fingerprint, run, variant_config


def test_results_are_reused_only_under_the_same_config(tmp_path):
    results, runs = tmp_path / "results", tmp_path / "runs"
    run(QUICK, results, runs, only={"baseline"})
    path = results / "baseline-seed0.json"
    first = json.loads(path.read_text())
    assert first["config_sha256"] == config_fingerprint(variant_config("baseline", 0, QUICK))
    assert len(first["clips"]) == QUICK.test_clips and all({"error", "null_error", "null_corr0"} <= set(c) for c in first["clips"])

    path.write_text(json.dumps({**first, "eval_seconds": -1.0}))
    run(QUICK, results, runs, only={"baseline"})
    assert json.loads(path.read_text())["eval_seconds"] == -1.0  # same config: kept

    path.write_text(json.dumps({**first, "config_sha256": "measured-under-an-older-config"}))
    run(QUICK, results, runs, only={"baseline"})
    again = json.loads(path.read_text())
    assert again["config_sha256"] == first["config_sha256"] and again["eval_seconds"] >= 0


def test_variants_differ_only_in_their_switches():
    base, cts = variant_config("baseline", 0, QUICK), variant_config("cts", 0, QUICK)
    assert config_fingerprint(base) != config_fingerprint(cts)
    assert (base.train.stages[0].steps, base.train.batch_size) == (cts.train.stages[0].steps, cts.train.batch_size)
    assert config_fingerprint(variant_config("cts", 1, QUICK)) != config_fingerprint(cts)  # the seed is in the config
