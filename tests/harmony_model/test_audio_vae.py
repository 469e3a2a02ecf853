import pytest
import torch

from harmony_bench.weights import WeightsMissing
from harmony_model.audio_vae import AudioVAE, MMAudioVAECodec


def test_full_size_vae_matches_the_released_checkpoint_size():
    """MMAudio's MODELS.md lists v1-16.pth at 655M: float32 parameters of this architecture."""
    with torch.device("meta"):
        vae = AudioVAE()
    mib = sum(p.numel() for p in vae.parameters()) * 4 / 2**20
    assert 650 < mib < 660


@pytest.fixture
def small_checkpoint(tmp_path, monkeypatch):
    torch.manual_seed(0)
    vae = AudioVAE(hidden=8)
    torch.nn.init.normal_(vae.data_mean, -2.0, 0.1)
    (tmp_path / "mmaudio").mkdir()
    torch.save(vae.state_dict(), tmp_path / "mmaudio" / "v1-16.pth")
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    return vae


def test_codec_loads_local_weights_and_keeps_the_latent_rate(small_checkpoint):
    codec = MMAudioVAECodec(griffin_lim_iters=4)
    assert torch.equal(codec.vae.data_mean, small_checkpoint.data_mean)  # strict load of the file
    wave = 0.1 * torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    z = codec.encode(wave)
    assert z.shape == (2, 31, 20) and codec.latent_rate == 31.25
    assert torch.equal(z, codec.encode(wave))
    assert codec.decode(z).shape == (2, 31 * 512)


def test_missing_vae_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsMissing, match="mmaudio/v1-16.pth"):
        MMAudioVAECodec()
