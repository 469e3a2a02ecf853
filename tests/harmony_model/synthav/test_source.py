import numpy as np
import torch

from harmony_model.synthav.source import load_pool, make_source
from harmony_model.synthav.generator import SynthAVConfig, generate


def test_batches_follow_the_training_contract(tiny_cfg, tmp_path):
    src = make_source(tiny_cfg, count=6, duration=1.0, cache_dir=str(tmp_path))
    batch = src.sample_batch(4, torch.Generator().manual_seed(0))
    assert batch["video"].shape == (4, 8, 3, 16, 16)
    assert batch["video"].min() >= -1 and batch["video"].max() <= 1
    assert batch["audio"].shape == (4, 16000) and batch["ref_audio"].shape == (4, 8000)
    assert all(len(batch[k]) == 4 for k in ("video_caption", "audio_caption", "transcript"))
    again = src.sample_batch(4, torch.Generator().manual_seed(0))
    assert torch.equal(batch["video"], again["video"]) and batch["video_caption"] == again["video_caption"]


def test_pool_holds_the_generated_clips_and_is_cached(tmp_path):
    cfg = SynthAVConfig(size=16, duration=1.0)
    pool = load_pool("train", 3, cfg, 0.5, tmp_path)
    clip = generate(int(pool.seeds[1]), config=cfg)
    assert np.array_equal(pool.frames[1], clip.frames)  # frame 0 = the clip's first frame
    assert np.abs(pool.audio[1] / 32767 - clip.audio).max() < 1e-4
    assert pool.video_caption[1] == clip.video_caption
    assert len(list(tmp_path.glob("*.npz"))) == 1
    cached = load_pool("train", 3, cfg, 0.5, tmp_path)
    assert np.array_equal(cached.frames, pool.frames) and cached.transcript == pool.transcript


def test_ref_mismatch_takes_another_clips_reference(tiny_cfg, tmp_path):
    src = make_source(tiny_cfg, count=6, duration=1.0, cache_dir=str(tmp_path))
    same = src.sample_batch(8, torch.Generator().manual_seed(3))
    other = src.sample_batch(8, torch.Generator().manual_seed(3), ref_mismatch=True)
    assert torch.equal(same["audio"], other["audio"])
    assert not torch.equal(same["ref_audio"], other["ref_audio"])


def test_cached_latents_are_the_trainers_encoding(tiny_cfg, tmp_path):
    from harmony_model.pretrained import build_codecs
    from harmony_model.train import encode_batch

    src = make_source(tiny_cfg, count=6, duration=1.0, cache_dir=str(tmp_path), cache_latents=True)
    batch = src.sample_batch(4, torch.Generator().manual_seed(1), ref_mismatch=True)
    cached = encode_batch(batch, *build_codecs(tiny_cfg.codec))
    fresh = encode_batch({k: v for k, v in batch.items() if k != "latents"}, *build_codecs(tiny_cfg.codec))
    for a, b in zip((cached.video, cached.audio, cached.ref_audio), (fresh.video, fresh.audio, fresh.ref_audio)):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


def test_stage_level_picks_its_own_pool(tiny_cfg, tmp_path):
    src = make_source(tiny_cfg, count=6, duration=1.0, cache_dir=str(tmp_path))
    single = src.sample_batch(6, torch.Generator().manual_seed(0), level="single")
    assert all(c.endswith("once.") for c in single["video_caption"]) and not any(single["transcript"])
    hard = src.sample_batch(6, torch.Generator().manual_seed(0))
    assert hard["video_caption"] != single["video_caption"]
    assert len(list(tmp_path.glob("*.npz"))) == 2
