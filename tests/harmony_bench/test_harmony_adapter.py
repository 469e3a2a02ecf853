"""The `harmony` adapter: shipped / user checkpoints, seeded generation through the harness contract."""

import numpy as np
import pytest
import torch

from harmony_bench.cases import load_cases
from harmony_bench.media import read_clip
from harmony_bench.models import GenerationError, get_model
from harmony_bench.models import harmony as adapter
from harmony_model.model import HarmonyModel
from tests.harmony_model.conftest import micro_config, randomise_interactions


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = HarmonyModel(micro_config())
    randomise_interactions(model)
    return model.save_pretrained(tmp_path / "ckpt")


def test_missing_checkpoint_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(adapter, "SHIPPED_CHECKPOINT", tmp_path / "tiny")
    with pytest.raises(GenerationError, match="config.json"):
        get_model("harmony")
    with pytest.raises(GenerationError, match="model.safetensors"):
        (tmp_path / "tiny").mkdir()
        (tmp_path / "tiny" / "config.json").write_text("{}")
        get_model("harmony")


def test_generates_a_seeded_clip_from_a_case(tiny_cases, checkpoint, tmp_path):
    model = get_model(f"harmony:{checkpoint}")
    case = load_cases(tiny_cases)[4]  # complex: captions, transcript, image, audio
    a = model.generate(case, seed=0, out_dir=tmp_path / "a")
    b = model.generate(case, seed=0, out_dir=tmp_path / "b")
    c = model.generate(case, seed=1, out_dir=tmp_path / "c")
    clip = read_clip(a.video)
    assert clip.frames.shape == (int(case.duration * 8), 256, 256, 3) and clip.fps == pytest.approx(8.0)
    assert clip.audio.shape[0] == int(case.duration * 16000)
    assert np.array_equal(read_clip(b.video).audio, clip.audio)
    assert not np.array_equal(read_clip(c.video).audio, clip.audio)
    info = model.describe()
    assert info["checkpoint"] == str(checkpoint) and len(info["checkpoint_sha256"]) == 64


def test_a_batch_writes_the_clips_of_single_calls_and_keeps_a_failing_case_apart(tiny_cases, checkpoint, tmp_path):
    from dataclasses import replace

    model = get_model(f"harmony:{checkpoint}")
    cases = load_cases(tiny_cases)[:4]
    broken = replace(cases[1], reference_image="missing.png")
    short = replace(cases[3], duration=0.5)  # another duration: denoised in a batch of its own
    batch = model.generate_batch([cases[0], broken, cases[2], short], seed=0, out_dir=tmp_path / "batch")
    assert isinstance(batch[1], GenerationError) and "reference image missing" in str(batch[1])
    for case, got in zip([cases[0], cases[2], short], [batch[0], batch[2], batch[3]]):
        alone = model.generate(case, seed=0, out_dir=tmp_path / case.id)
        a, b = read_clip(got.video, got.audio), read_clip(alone.video, alone.audio)
        assert np.array_equal(a.audio, b.audio) and np.array_equal(a.frames, b.frames)
    assert read_clip(batch[3].video).frames.shape[0] == 4  # 0.5 s at 8 fps
