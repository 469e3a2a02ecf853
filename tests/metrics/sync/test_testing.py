from harmony_bench.weights import sha256_of
from harmony_bench.metrics.sync.syncnet_model import load_syncnet
from harmony_bench.metrics.sync.testing import write_random_weights


def test_random_syncnet_file_is_in_the_official_format(tmp_path):
    import zipfile

    import torch

    written = write_random_weights(tmp_path, only=("syncnet_v2.model",))
    assert written == {"syncnet_v2.model": sha256_of(tmp_path / "syncnet_v2.model")}
    assert not zipfile.is_zipfile(tmp_path / "syncnet_v2.model")  # legacy serialisation, as the 2016 file
    state = torch.load(tmp_path / "syncnet_v2.model", weights_only=True)
    assert not any(k.endswith("num_batches_tracked") for k in state)
    assert load_syncnet(tmp_path / "syncnet_v2.model") is not None
    # seeded: the same tensors every time (legacy files name storages by address, so bytes differ)
    write_random_weights(tmp_path / "again", only=("syncnet_v2.model",))
    again = torch.load(tmp_path / "again" / "syncnet_v2.model", weights_only=True)
    assert again.keys() == state.keys() and all(torch.equal(again[k], state[k]) for k in state)


def test_synchformer_file_is_tiny_with_its_override(tmp_path):
    written = write_random_weights(tmp_path, only=("synchformer_state_dict.pth",))
    assert set(written) == {"synchformer_state_dict.pth", "synchformer_state_dict.pth.arch.json"}
    assert (tmp_path / "synchformer_state_dict.pth").stat().st_size < 5_000_000
    assert write_random_weights(tmp_path / "again", only=("synchformer_state_dict.pth",)) == written
