import importlib.util

from harmony_bench.weights import sha256_of
from metrics.sync.syncnet_model import load_syncnet
from metrics.sync.testing import write_random_weights


def test_random_syncnet_file_is_in_the_official_format(tmp_path):
    written = write_random_weights(tmp_path, only=("syncnet_v2.model",))
    assert written == {"syncnet_v2.model": sha256_of(tmp_path / "syncnet_v2.model")}
    assert load_syncnet(tmp_path / "syncnet_v2.model") is not None
    again = write_random_weights(tmp_path / "again", only=("syncnet_v2.model",))
    assert again == written  # seeded: the same bytes every time


def test_synchformer_file_only_when_its_architecture_is_installed(tmp_path):
    written = write_random_weights(tmp_path, only=("synchformer_state_dict.pth",))
    has_av_bench = importlib.util.find_spec("av_bench") is not None
    assert ("synchformer_state_dict.pth" in written) == has_av_bench
