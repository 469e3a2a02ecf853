import pytest
import torch

from harmony_bench.weights import WeightsMissing
from harmony_model.config import paper
from harmony_model.pretrained import T5CaptionEncoder, WanVAEVideoCodec, init_video_from_wan, parameter_counts


@pytest.fixture(scope="module")
def counts() -> dict[str, int]:
    return parameter_counts(paper())


def test_paper_scale_builds_on_meta_and_counts_parameters(counts):
    assert counts["total"] == counts["video"] + counts["audio"] + counts["interactions"]
    assert 4.9e9 < counts["video"] < 5.1e9  # Wan2.2-TI2V-5B


@pytest.mark.slow
def test_paper_video_branch_has_exactly_wan_ti2v_5b_parameters(counts):
    diffusers = pytest.importorskip("diffusers")
    cfg = paper().video
    with torch.device("meta"):
        wan = diffusers.WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=24, attention_head_dim=128, in_channels=48, out_channels=48,
            text_dim=4096, freq_dim=256, ffn_dim=14336, num_layers=30, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
    assert cfg.dim == 24 * 128
    assert sum(p.numel() for p in wan.parameters()) == counts["video"]


def test_local_weights_are_required_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsMissing, match="wan2.2-ti2v-5b/vae"):
        WanVAEVideoCodec(paper().codec)
    with pytest.raises(WeightsMissing, match="text_encoder"):
        T5CaptionEncoder()
    with pytest.raises(WeightsMissing, match="transformer"):
        init_video_from_wan(None)
