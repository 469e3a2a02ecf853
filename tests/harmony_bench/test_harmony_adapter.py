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
