import pytest


@pytest.fixture(scope="session")
def tiny_cfg():
    """The tiny model config at 16 px (what the SynthAV source and ablation use)."""
    from harmony_model.config import tiny

    cfg = tiny()
    cfg.codec.height = cfg.codec.width = 16
    cfg.codec.ref_audio_seconds = 0.5
    return cfg
