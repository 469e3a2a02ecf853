"""Weight verification: pinned hashes, torchvision's hash-prefix rule, format checks, and that a
corrupted file with the right name is refused everywhere it could be reported runnable."""

from __future__ import annotations

import json

import pytest

from harmony_bench import weights
from harmony_bench.cli import main
from harmony_bench.weights import WeightFile, WeightsMismatch, sha256_of, verify
from harmony_bench.metrics.registry import all_metric_keys, get_metric
from harmony_bench.metrics.video import manifest

RAFT = manifest.RAFT_THINGS


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    monkeypatch.delenv("HARMONY_BENCH_MANIFEST", raising=False)
    return tmp_path


def official_files() -> dict[str, tuple]:
    """Metric family -> the weight files of its official backend."""
    return {get_metric(k).family: get_metric(k).weights for k in all_metric_keys()
            if get_metric(k).official and get_metric(k).weights}


def test_every_official_backend_has_a_pinned_hash_or_a_name_prefix_check():
    files = official_files()
    assert len(files) == 10  # AQ IQ DD MS ID PQ.. (Audiobox) WER IB Sync DeSync
    covered = {family for family, wfs in files.items() if all(wf.sha256 or wf.hash_prefix for wf in wfs)}
    assert covered == set(files)  # the acceptance asks for at least 8 of 10
    for wfs in files.values():
        for wf in wfs:
            assert wf.sha256 is None or (len(wf.sha256) == 64 and int(wf.sha256, 16) >= 0)
            assert wf.sha256 is None or wf.hash_source, wf.name  # every pin says where it was read
            assert wf.hash_prefix is None or wf.hash_prefix in wf.name  # torchvision / pyiqa naming
            assert wf.sha256 or (wf.size_range and wf.check_format), wf.name


def test_known_pins():
    assert manifest.AESTHETIC_HEAD.sha256 == "a6caf256b3dc434273c98dcb12f6bf17c5d4fc647d8df11f038386923dd06220"
    assert manifest.AESTHETIC_HEAD.size_bytes == 2_644_834
    assert manifest.MUSIQ_SPAQ.sha256.startswith(manifest.MUSIQ_SPAQ.hash_prefix)
    assert manifest.MUSIQ_KONIQ.sha256.startswith(manifest.MUSIQ_KONIQ.hash_prefix)


def test_random_bytes_under_the_raft_name_are_refused_by_the_prefix(folder):
    path = folder / RAFT.name
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(range(256)) * 4)  # 1024 bytes with the right name
    with pytest.raises(WeightsMismatch, match=r"raft_large_C_T_V1-22a6c225\.pth: sha256 \w+ does not start with 22a6c225"):
        weights.resolve(RAFT)


def test_after_the_prefix_size_and_format_are_checked(tmp_path):
    """With the name's prefix matching (set here to the file's own), a file still needs the right
    size and torchvision's raft_large keys and shapes."""
    import dataclasses

    import torch
    from torchvision.models.optical_flow import raft_large

    good = tmp_path / "good.pth"
    state = raft_large(weights=None, progress=False).state_dict()
    torch.save(state, good)
    assert verify(dataclasses.replace(RAFT, hash_prefix=sha256_of(good)[:8]), good) == sha256_of(good)

    bad = tmp_path / "bad.pth"
    torch.save({**state, "extra.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsMismatch, match="bad.pth: not the expected checkpoint format.*extra.weight"):
        verify(dataclasses.replace(RAFT, hash_prefix=sha256_of(bad)[:8]), bad)
    small = tmp_path / "small.pth"
    torch.save({k: v for k, v in list(state.items())[:5]}, small)
    with pytest.raises(WeightsMismatch, match="small.pth: .* bytes, outside the expected"):
        verify(dataclasses.replace(RAFT, hash_prefix=sha256_of(small)[:8]), small)


def _prefix_differing_at(sha: str, position: int) -> str:
    """The first 8 hex digits of `sha` with the digit at `position` changed."""
    digit = "0" if sha[position] != "0" else "1"
    return sha[:position] + digit + sha[position + 1 : 8]


def test_all_eight_digits_of_the_name_prefix_are_compared(tmp_path):
    path = tmp_path / "w.pth"
    path.write_bytes(b"weights")
    actual = sha256_of(path)
    for position in (0, 4, 7):  # a check of fewer digits lets the last ones through
        with pytest.raises(WeightsMismatch, match=f"does not start with {_prefix_differing_at(actual, position)}"):
            verify(WeightFile("w.pth", None, "src", "lic", hash_prefix=_prefix_differing_at(actual, position)), path)
    assert verify(WeightFile("w.pth", None, "src", "lic", hash_prefix=actual[:8]), path) == actual


def test_a_size_in_range_and_a_good_format_do_not_excuse_a_wrong_prefix(tmp_path):
    path = tmp_path / "w.pth"
    path.write_bytes(b"weights")
    wf = WeightFile("w.pth", None, "src", "lic", hash_prefix=_prefix_differing_at(sha256_of(path), 7),
                    size_range=(1, 1000), check_format=lambda p: None)
    with pytest.raises(WeightsMismatch, match="does not start with"):
        verify(wf, path)


def test_a_file_without_any_pin_is_checked_by_its_format(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"x" * 10)

    def refuse(p):
        raise ValueError("no\\nsuch\n  format")

    with pytest.raises(WeightsMismatch, match=r"x.bin: not the expected checkpoint format: no\\nsuch format$"):
        verify(WeightFile("x.bin", None, "src", "lic", check_format=refuse), path)
    assert verify(WeightFile("x.bin", None, "src", "lic", check_format=lambda p: None), path) == sha256_of(path)


@pytest.fixture
def corrupted_spaq(folder):
    """MUSIQ-SPAQ's name (IQ's only file; its sha256 is pinned) holding other bytes."""
    wf = manifest.MUSIQ_SPAQ
    (folder / wf.name).parent.mkdir(parents=True)
    (folder / wf.name).write_bytes(b"\0" * 1000)
    return folder / wf.name


def test_weights_verify_refuses_it_in_one_line(corrupted_spaq, capsys):
    assert main(["weights", "--verify"]) == 1
    bad = [line for line in capsys.readouterr().out.splitlines() if "BAD:" in line]
    assert len(bad) == 1 and str(corrupted_spaq) in bad[0] and manifest.MUSIQ_SPAQ.sha256 in bad[0]


def test_metrics_never_reports_it_runnable(corrupted_spaq, capsys):
    assert get_metric("iq@musiq-spaq")().availability() is None  # present: the cheap check passes
    assert main(["metrics", "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["key"] == "iq@musiq-spaq")
    assert not row["runs_here"]
    assert row["why_not"].startswith("weights fail verification") and str(corrupted_spaq) in row["why_not"]
    assert "\n" not in row["why_not"]


def test_evaluate_refuses_it_naming_the_file(corrupted_spaq):
    from harmony_bench.runner import prepare_metrics

    (slot,) = prepare_metrics(["iq@musiq-spaq"], "cpu")
    assert slot.reason_status == "error" and str(corrupted_spaq) in slot.reason and "\n" not in slot.reason


def test_weights_listing_shows_how_each_file_is_checked(folder, capsys):
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    assert "check:   sha256 prefix 22a6c225 from the file name (torchvision check_hash)" in out
    assert f"check:   sha256 {manifest.AESTHETIC_HEAD.sha256}" in out


def test_hashes_are_kept_on_disk_until_the_file_changes(folder, monkeypatch):
    import os

    path = folder / "big.bin"
    path.write_bytes(b"a" * (1 << 20))
    first = sha256_of(path)
    assert json.loads((folder / weights.CACHE_FILE).read_text())[str(path.resolve())][2] == first
    monkeypatch.setattr(weights, "_HASH_CACHE", {})
    reads = []
    real_open = type(path).open
    monkeypatch.setattr(type(path), "open", lambda self, *a, **k: reads.append(self) or real_open(self, *a, **k))
    assert sha256_of(path) == first and path not in reads  # from the disk cache: the file is not read
    path.write_bytes(b"b" * (1 << 20))
    os.utime(path, ns=(1, 2))  # a different mtime, same size
    assert sha256_of(path) != first and path in reads
