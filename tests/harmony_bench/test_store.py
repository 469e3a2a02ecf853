"""Property-based tests of the store and of merge: however a run's cases are split, merged and
re-merged, the result is the store one process would have written."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harmony_bench.runfolder import Identity, RunFolder, merge_runs
from harmony_bench.store import ClipRow, ResultRow, Store, StoreError
from tests.harmony_bench.stores import rows

IDENTITY = Identity({"spec": "static", "name": "static"}, "c" * 64, 0)
METRICS = ("m1", "m2")


@st.composite
def case_data(draw):
    """case id -> (clip sha, {metric: (status, value)})"""
    ids = draw(st.lists(st.sampled_from([f"case-{i}" for i in range(8)]), min_size=1, max_size=6, unique=True))
    out = {}
    for cid in ids:
        metrics = {}
        for m in METRICS:
            status = draw(st.sampled_from(["ok", "unscorable", "unavailable", "error"]))
            value = draw(st.floats(-1e6, 1e6, allow_nan=False)) if status == "ok" else None
            metrics[m] = (status, value)
        out[cid] = (draw(st.sampled_from(["a" * 64, "b" * 64])), metrics)
    return out


def write(folder: Path, data: dict, only: set[str] | None = None) -> Path:
    with RunFolder(folder).open(IDENTITY) as store:
        for cid, (sha, metrics) in sorted(data.items()):
            if only is not None and cid not in only:
                continue
            (folder / "clips").mkdir(exist_ok=True)
            (folder / "clips" / f"{cid}.mp4").write_text(sha)
            clip = ClipRow(IDENTITY.run_id, "static", cid, "ambient", f"clips/{cid}.mp4", None, "ok", seed=0,
                           created_at=1.0, sha256=sha)
            results = [ResultRow(IDENTITY.run_id, "static", cid, "ambient", m, out, m, False, "higher", "b", False,
                                 "1", "", value, status, None, {}, {}, 0, IDENTITY.run_id, 1.0, 2.0, sha)
                       for m, (status, value) in metrics.items() for out in ("x", "y")]
            store.write_case(results, clip=clip)
    return folder


@settings(max_examples=25, deadline=None)
@given(case_data(), st.integers(1, 4), st.randoms())
def test_merging_any_split_equals_one_store(data, n_parts, rnd):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        whole = write(tmp / "whole", data)
        ids = sorted(data)
        parts = [set(ids[k::n_parts]) for k in range(n_parts)]
        shards = [write(tmp / f"part{k}", data, p) for k, p in enumerate(parts)]
        rnd.shuffle(shards)
        merge_runs(tmp / "merged", shards)
        assert rows(tmp / "merged", "results") == rows(whole, "results")
        assert rows(tmp / "merged", "clips") == rows(whole, "clips")
        merge_runs(tmp / "merged", shards[::-1])  # again, in another order: nothing changes
        assert rows(tmp / "merged", "results") == rows(whole, "results")


@settings(max_examples=25, deadline=None)
@given(case_data(), case_data())
def test_a_new_clip_takes_its_scores_with_it(first, second):
    """After any sequence of writes, every stored score belongs to the clip stored for its case."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(Path(tmp) / "run", first)
        write(folder, second)
        with Store(folder, readonly=True) as store:
            clip_sha = {c.case_id: c.sha256 for c in store.clips()}
            for r in store.results():
                assert r["clip_sha256"] == clip_sha[r["case_id"]]
            assert set(clip_sha) == set(first) | set(second)


def test_the_store_alone_drops_the_scores_of_a_replaced_clip(tmp_path):
    """A new clip written without any scores: the old clip's scores go, whatever the runner does."""
    def clip(sha):
        return ClipRow(IDENTITY.run_id, "static", "case-0", "ambient", "clips/case-0.mp4", None, "ok", sha256=sha)

    def score(sha):
        return ResultRow(IDENTITY.run_id, "static", "case-0", "ambient", "m1", "x", "m1", False, "higher", "b", False,
                         "1", "", 0.5, "ok", clip_sha256=sha)

    with Store(tmp_path, create=True) as store:
        store.write_case([score("a" * 64)], clip=clip("a" * 64))
        store.write_case([], clip=clip("a" * 64))  # the same clip again: its scores stay
        assert store.done_stamps("m1") == {"case-0": {("x", "1", "", "a" * 64)}}
        store.write_case([], clip=clip("b" * 64))
        assert store.results() == [] and store.done_stamps("m1") == {}


def test_the_store_rejects_what_is_not_a_store(tmp_path):
    (tmp_path / "results.sqlite").write_text("not sqlite " * 100)
    with pytest.raises(StoreError, match="not a harmony-bench results store"):
        Store(tmp_path, readonly=True)
