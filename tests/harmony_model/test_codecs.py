import numpy as np
import torch

from harmony_model.codecs import LogMelAudioCodec, PixelUnshuffleVideoCodec
from harmony_model.config import CodecConfig


def test_pixel_unshuffle_round_trip_is_exact():
    codec = PixelUnshuffleVideoCodec(CodecConfig())
    x = torch.rand(2, 3, 3, 32, 32) * 2 - 1
    z = codec.encode(x)
    assert z.shape == (2, 48, 3, 8, 8)
    assert torch.equal(codec.decode(z), x)


def test_log_mel_rate_silence_and_tone_round_trip():
    codec = LogMelAudioCodec(CodecConfig(), griffin_lim_iters=16)
    assert codec.latent_rate == 31.25
    silence = codec.encode(torch.zeros(1, 16000))
    assert silence.shape == (1, 31, 128) and silence.unique().numel() == 1 and silence[0, 0, 0] != 0
    t = torch.arange(16000) / 16000
    tone = 0.5 * torch.sin(2 * torch.pi * 1000 * t)[None]
    wave = codec.decode(codec.encode(tone))[0].numpy()
    spectrum = np.abs(np.fft.rfft(wave[2000:14000]))
    peak_hz = np.argmax(spectrum) * 16000 / 12000
    assert abs(peak_hz - 1000) < 40  # Griffin-Lim keeps the pitch
    assert np.array_equal(wave, codec.decode(codec.encode(tone))[0].numpy())  # deterministic
