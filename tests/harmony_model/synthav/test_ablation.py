import hashlib
import json

from harmony_model.synthav.ablation import QUICK, SYNC, TRAINED, config_fingerprint, run, train_variant, variant_config


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

    # the same model measured on fewer test clips: evaluated again on the budget's clips
    fewer = {**first, "budget": {**first["budget"], "test_clips": QUICK.test_clips - 1}, "clips": first["clips"][:-1]}
    path.write_text(json.dumps({**fewer, "eval_seconds": -1.0}))
    anchors = results / "anchors.json"
    anchors.write_text(json.dumps({**json.loads(anchors.read_text()), "budget": fewer["budget"]}))
    run(QUICK, results, runs, only={"baseline"})
    again = json.loads(path.read_text())
    assert len(again["clips"]) == QUICK.test_clips and again["eval_seconds"] >= 0
    assert json.loads(anchors.read_text())["budget"]["test_clips"] == QUICK.test_clips


def test_variants_differ_only_in_their_switches():
    base, cts = variant_config("baseline", 0, QUICK), variant_config("cts", 0, QUICK)
    assert config_fingerprint(base) != config_fingerprint(cts)
    assert (base.train.stages[0].steps, base.train.batch_size) == (cts.train.stages[0].steps, cts.train.batch_size)
    assert config_fingerprint(variant_config("cts", 1, QUICK)) != config_fingerprint(cts)  # the seed is in the config


def test_every_variant_gets_the_same_curriculum():
    configs = {v: variant_config(v, 0, SYNC) for v in TRAINED}
    plans = {v: [(s.name, s.steps, s.data_options, s.trainable, s.batch_size) for s in c.train.stages]
             for v, c in configs.items()}
    assert all(plan == plans["baseline"] for plan in plans.values())
    assert [(name, options) for name, _, options, _, _ in plans["baseline"]] == [
        ("single", {"level": "single"}), ("several", {"level": "several"}), ("hard", {"level": "hard"})]
    assert sum(steps for _, steps, *_ in plans["baseline"]) == SYNC.steps
    assert all((s.lambda_v, s.lambda_a) == (0, 0) for s in configs["rope"].train.stages)
    assert [(s.lambda_v, s.lambda_a) for s in configs["cts"].train.stages] == [(0, 0), (0, 0), (0.1, 0.3)]
    assert configs["cts"].codec.fps == 12 and SYNC.test_clips >= 96


def test_a_curriculum_run_trains_through_every_level(tmp_path):
    from dataclasses import replace

    from harmony_model.synthav.ablation import CURRICULUM

    budget = replace(QUICK, steps=5, curriculum=CURRICULUM)
    run(budget, tmp_path / "results", tmp_path / "runs", only={"cts"})
    out = tmp_path / "runs" / "cts" / "seed0"
    stages = json.loads((out / "config.json").read_text())["train"]["stages"]
    assert [(s["name"], s["steps"]) for s in stages] == [("single", 1), ("several", 1), ("hard", 3)]
    last = json.loads((out / "loss_log.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 5 and last["stage"] == "hard" and "video_driven" in last  # CTS in the last stage
    result = json.loads((tmp_path / "results" / "cts-seed0.json").read_text())
    assert result["budget"]["curriculum"][0] == ["single", 0.2]
    # the result names the weights it measured: the final export, by hash and step
    digest = hashlib.sha256((out / "model" / "model.safetensors").read_bytes()).hexdigest()
    assert result["model"] == {"weights_sha256": digest, "trained_steps": 5}
    # "trained" is read from the saved state, not from the log (whose lines may outrun a save)
    assert train_variant("cts", 0, budget, tmp_path / "runs", train_missing=False) == out / "model"
    (out / "train_state.pt").unlink()
    assert train_variant("cts", 0, budget, tmp_path / "runs", train_missing=False) is None


def test_the_curriculum_config_file_is_the_shipped_candidates_config():
    from pathlib import Path

    from harmony_model.config import HarmonyConfig

    path = Path(__file__).resolve().parents[3] / "harmony_model" / "configs" / "tiny-synthav-curriculum.json"
    on_disk = HarmonyConfig.load(path)
    assert on_disk.train.data == "harmony_model.synthav.source:make_source"
    on_disk.train.data, on_disk.train.data_kwargs = "", {}
    assert on_disk.to_dict() == variant_config("cts", 0, SYNC).to_dict()


def test_another_test_level_scores_only_trained_models(tmp_path):
    from dataclasses import asdict, replace

    from harmony_model.synthav.ablation import same_test

    runs = tmp_path / "runs"
    run(QUICK, tmp_path / "hard", runs, only={"baseline"})
    single = replace(QUICK, test_level="single")
    run(single, tmp_path / "single", runs, only={"baseline", "gldi"}, train_missing=False)
    scored = json.loads((tmp_path / "single" / "baseline-seed0.json").read_text())
    assert {c["flavour"] for c in scored["clips"]} == {"ambient"} and scored["budget"]["test_level"] == "single"
    assert not (tmp_path / "single" / "gldi-seed0.json").exists() and not (runs / "gldi").exists()  # nothing trained
    # results stored before test_level existed were measured on the hard mix
    old = {"test_clips": QUICK.test_clips, "sample_steps": QUICK.sample_steps}
    assert same_test(old, asdict(QUICK)) and not same_test(old, asdict(single))


def test_each_budget_has_its_own_table_folder():
    from dataclasses import replace

    from harmony_model.synthav.ablation import Budget, table_dir

    assert table_dir(Budget()).name == "ablation" and table_dir(SYNC).name == "curriculum"
    assert table_dir(replace(SYNC, test_level="hard")) == table_dir(SYNC)
    assert table_dir(replace(SYNC, test_level="single")).name == "curriculum-single"
    assert table_dir(QUICK) is None and table_dir(replace(SYNC, steps=100)) is None
