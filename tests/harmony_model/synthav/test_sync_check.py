import hashlib
import json

import numpy as np
import pytest
import torch

from harmony_model.synthav.sync_check import main, summarise

KEYS = ("timing_error", "chance", "error_minus_chance", "corr0_minus_chance")


def rows(error, null_error, corr0, null_corr0, flavour="ambient"):
    return [{"flavour": flavour, "error": e, "null_error": ne, "corr0": c, "null_corr0": nc}
            for e, ne, c, nc in zip(error, null_error, corr0, null_corr0)]


def test_a_model_in_sync_beats_its_chance_level():
    rng = np.random.default_rng(0)
    n = 48
    s = summarise(rows(rng.uniform(0, 0.05, n), rng.uniform(0.1, 0.5, n), rng.uniform(0.5, 0.9, n), rng.uniform(-0.2, 0.2, n)))
    assert s["clips"] == n and s["in_sync"]
    assert s["error_minus_chance"]["ci_high"] < 0 < s["corr0_minus_chance"]["ci_low"]
    m = s["error_minus_chance"]
    assert m["ci_low"] <= m["mean"] <= m["ci_high"]
    assert m["mean"] == pytest.approx(s["timing_error"]["mean"] - s["chance"]["mean"], abs=1e-3)


def test_a_clip_independent_habit_is_not_sync():
    """The same timing with the clip's own audio and with another clip's: no better than chance."""
    rng = np.random.default_rng(1)
    error, corr0 = rng.uniform(0, 0.5, 48), rng.uniform(0, 0.8, 48)
    s = summarise(rows(error, error[::-1], corr0, corr0[::-1]))
    assert not s["in_sync"]
    assert s["error_minus_chance"]["ci_low"] < 0 < s["error_minus_chance"]["ci_high"]


def test_the_difference_to_chance_is_paired_per_clip():
    """Each clip's error minus its own chance level: here exactly 0.01 s better on every clip,
    while both vary tenfold across clips. Paired, the interval is that one value; pairing a
    clip's error with another clip's chance would spread it over about +-0.4 s and lose the sync."""
    null_error = np.linspace(0.05, 0.5, 48)
    null_corr0 = np.linspace(-0.4, 0.4, 48)
    s = summarise(rows(null_error - 0.01, null_error, null_corr0 + 0.02, null_corr0))
    assert [s["error_minus_chance"][k] for k in ("mean", "ci_low", "ci_high")] == [-0.01] * 3
    assert [s["corr0_minus_chance"][k] for k in ("mean", "ci_low", "ci_high")] == [0.02] * 3
    assert s["in_sync"]


def test_json_output_of_a_checkpoint(tmp_path, capsys):
    from harmony_model.model import HarmonyModel
    from tests.harmony_model.conftest import micro_config

    cfg = micro_config()
    cfg.audio.transcript_max_len, cfg.caption.max_len = 24, 48
    torch.manual_seed(0)
    HarmonyModel(cfg).save_pretrained(tmp_path)
    main(["--checkpoint", str(tmp_path), "--clips", "9", "--seconds", "1", "--steps", "1", "--guidance", "none", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["clips"] == 9 and out["sampling"]["guidance"] == "none"
    for part in (out, *out["flavours"].values()):
        assert all({"mean", "ci_low", "ci_high"} <= set(part[k]) for k in KEYS) and "in_sync" in part
    assert {f: s["clips"] for f, s in out["flavours"].items()} == {"ambient": 3, "speech": 3, "complex": 3}
    assert out["checkpoint"] == str(tmp_path.resolve())  # outside the repository: the path as given
    assert out["weights_sha256"] == hashlib.sha256((tmp_path / "model.safetensors").read_bytes()).hexdigest()


def test_the_shipped_result_names_its_checkpoint_relative_to_the_repository():
    """Was: the committed sync_check.json recorded /work/main/runs/... of the machine it ran on."""
    from harmony_model import SHIPPED_CHECKPOINT
    from harmony_model.synthav.ablation import REPO, repo_relative

    assert repo_relative(REPO / "runs" / "x" / "model") == "runs/x/model"
    shipped = json.loads((SHIPPED_CHECKPOINT / "sync_check.json").read_text())
    assert shipped["checkpoint"] == "runs/curriculum-6000/cts/seed0/model"
    weights = hashlib.sha256((SHIPPED_CHECKPOINT / "model.safetensors").read_bytes()).hexdigest()
    assert shipped["weights_sha256"] == weights


def test_bad_input_is_named(tmp_path):
    with pytest.raises(SystemExit, match="no checkpoint here"):
        main(["--checkpoint", str(tmp_path)])


def test_easier_levels_report_only_their_flavours(tmp_path, capsys):
    from harmony_model.model import HarmonyModel
    from tests.harmony_model.conftest import micro_config

    torch.manual_seed(0)
    HarmonyModel(micro_config()).save_pretrained(tmp_path)
    main(["--checkpoint", str(tmp_path), "--clips", "8", "--seconds", "1", "--steps", "1", "--guidance", "none",
          "--level", "single", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["level"] == "single" and list(out["flavours"]) == ["ambient"] and out["flavours"]["ambient"]["clips"] == 8


def test_shipping_needs_sync_in_the_speech_flavours_too():
    from harmony_model.synthav.sync_check import passes

    good = {"in_sync": True, "flavours": {f: {"in_sync": True} for f in ("ambient", "speech", "complex")}}
    assert passes(good)
    assert not passes({**good, "flavours": {**good["flavours"], "speech": {"in_sync": False}}})
    assert not passes({**good, "in_sync": False})
