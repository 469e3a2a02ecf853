from harmony_bench.weights import sha256_of
from metrics.sync.syncnet_model import load_syncnet
from metrics.sync.testing import write_random_weights


def test_random_syncnet_file_is_in_the_official_format(tmp_path):
    written = write_random_weights(tmp_path, only=("syncnet_v2.model",))
    assert written == {"syncnet_v2.model": sha256_of(tmp_path / "syncnet_v2.model")}
    assert load_syncnet(tmp_path / "syncnet_v2.model") is not None
    again = write_random_weights(tmp_path / "again", only=("syncnet_v2.model",))
    assert again == written  # seeded: the same bytes every time


def test_synchformer_file_is_tiny_with_its_override(tmp_path):
    written = write_random_weights(tmp_path, only=("synchformer_state_dict.pth",))
    assert set(written) == {"synchformer_state_dict.pth", "synchformer_state_dict.pth.arch.json"}
    assert (tmp_path / "synchformer_state_dict.pth").stat().st_size < 5_000_000
    assert write_random_weights(tmp_path / "again", only=("synchformer_state_dict.pth",)) == written
