import numpy as np

from harmony_bench.metrics.sync.signals import loudness_db


def test_loudness_puts_a_burst_on_its_own_frame():
    sr, fps = 16000, 25
    audio = np.zeros(sr)
    audio[10 * 640 + 100 : 10 * 640 + 300] = 0.5  # a burst inside frame 10's block
    level = loudness_db(audio, sr, fps, 25)
    assert int(np.argmax(level)) == 10
    assert level[9] == level[11] == -60.0  # silence elsewhere sits on the floor
