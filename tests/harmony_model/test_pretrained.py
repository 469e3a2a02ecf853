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


def test_wan_vae_codec_round_trips_shapes_with_random_weights(tmp_path, monkeypatch):
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 2, 2], num_res_blocks=1,
                                     temperal_downsample=[False, True], latents_mean=[0.5] * 4, latents_std=[2.0] * 4)
    vae.save_pretrained(tmp_path / "wan2.2-ti2v-5b" / "vae")
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    codec = WanVAEVideoCodec(paper().codec)
    frames = torch.rand(1, 5, 3, 16, 16) * 2 - 1
    z = codec.encode(frames)
    assert z.shape == (1, 4, codec.latent_frames(5), 4, 4) and codec.latent_frames(5) == 3
    with torch.no_grad():
        raw = vae.encode(frames.transpose(1, 2)).latent_dist.mean
    torch.testing.assert_close(z, (raw - 0.5) / 2.0)  # the VAE's latent normalisation is applied
    assert codec.decode(z).shape == frames.shape
