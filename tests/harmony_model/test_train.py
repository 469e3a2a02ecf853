import json

import pytest
import torch

from harmony_model.train import STATE_NAME, Trainer, drop_captions, main, saved_step, stage_at
from tests.harmony_model.conftest import ToySource


def test_training_writes_checkpoint_log_and_resumes_exactly(tmp_path, cfg):
    torch.manual_seed(0)
    straight = Trainer(cfg, ToySource(cfg), tmp_path / "a")
    straight.run(progress=False)

    torch.manual_seed(0)
    interrupted = Trainer(cfg, ToySource(cfg), tmp_path / "b")
    for _ in range(2):
        interrupted.train_step(stage_at(cfg.train.stages, interrupted.step))
    interrupted.save()
    resumed = Trainer(cfg, ToySource(cfg), tmp_path / "b")
    assert resumed.resume() and resumed.step == 2
    resumed.run(progress=False)

    a = torch.load(tmp_path / "a" / STATE_NAME, weights_only=True)
    b = torch.load(tmp_path / "b" / STATE_NAME, weights_only=True)
    assert a["step"] == b["step"] == 4
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    log = [json.loads(line) for line in (tmp_path / "a" / "loss_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert [r["stage"] for r in log] == ["audio", "audio", "joint", "joint"]
    assert {"total", "joint", "audio_driven", "video_driven"} <= set(log[0])
    assert (tmp_path / "a" / "model" / "model.safetensors").is_file()


def test_stage_trainable_prefixes_freeze_the_rest(tmp_path, cfg):
    torch.manual_seed(0)
    trainer = Trainer(cfg, ToySource(cfg), tmp_path)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train_step(cfg.train.stages[0])  # trainable = ("audio.",)
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if not k.startswith("audio."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("audio."))


def test_caption_dropout_drops_all_texts_of_a_sample_together():
    import random

    batch = {"video_caption": ["v"] * 200, "audio_caption": ["a"] * 200, "transcript": ["t"] * 200}
    out = drop_captions(batch, 0.3, random.Random(0))
    dropped = [v == "" for v in out["video_caption"]]
    assert dropped == [a == "" for a in out["audio_caption"]] == [t == "" for t in out["transcript"]]
    assert 30 < sum(dropped) < 90


def test_cli_trains_from_a_config_file(tmp_path, cfg, monkeypatch):
    cfg.train.data = "tests.harmony_model.conftest:make_source"
    cfg.train.data_kwargs = {"seconds": 0.5}
    cfg.train.stages = cfg.train.stages[:1]
    cfg.save(tmp_path / "c.json")
    assert main(["--config", str(tmp_path / "c.json"), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert (tmp_path / "run" / "model" / "config.json").is_file()


def test_missing_data_source_is_an_error(tmp_path, cfg):
    cfg.save(tmp_path / "c.json")
    with pytest.raises(ValueError, match="data source"):
        main(["--config", str(tmp_path / "c.json"), "--out", str(tmp_path / "run"), "--quiet"])


def test_log_lines_after_the_last_checkpoint_are_dropped_on_restart(tmp_path, cfg):
    (tmp_path / "loss_log.jsonl").write_text('{"step": 1, "total": 9.0}\n{"step": 2, "total": 9.0}\n')
    torch.manual_seed(0)
    Trainer(cfg, ToySource(cfg), tmp_path).run(progress=False)  # no train state: starts at step 0
    steps = [json.loads(line)["step"] for line in (tmp_path / "loss_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_a_log_line_never_precedes_its_checkpoint(tmp_path, cfg, monkeypatch):
    # A crash while saving the final checkpoint must leave neither a log line nor a saved
    # step that claims it (the ablation reads the saved step as the export's).
    import harmony_model.train as train_mod

    real_export = train_mod.export_ema

    def export_then_crash_at_the_end(c, ema, folder):
        if trainer.step == trainer.total_steps:
            raise OSError("disk full")
        real_export(c, ema, folder)

    monkeypatch.setattr(train_mod, "export_ema", export_then_crash_at_the_end)
    cfg.train.checkpoint_every = 1
    torch.manual_seed(0)
    trainer = Trainer(cfg, ToySource(cfg), tmp_path)
    with pytest.raises(OSError, match="disk full"):
        trainer.run(progress=False)
    steps = [json.loads(line)["step"] for line in (tmp_path / "loss_log.jsonl").read_text().splitlines()]
    assert steps[-1] == trainer.total_steps - 1
    assert saved_step(tmp_path) == trainer.total_steps - 1
