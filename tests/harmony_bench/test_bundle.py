"""Bundles and `verify`: an untouched bundle passes; each kind of tampering is caught and named."""

from __future__ import annotations

import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

import tests.harmony_bench.fake_metrics  # noqa: F401  (registers brightness@test, picky@test)
from harmony_bench import runner
from harmony_bench.bundle import FORMAT, MANIFEST, BundleError, open_bundle, verify, write_bundle
from harmony_bench.cli import main
from harmony_bench.runfolder import file_sha256
from tests.conftest import write_case_set

METRICS = ["brightness@test", "picky@test", "dd@farneback"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bundle")
    cases = write_case_set(root / "cases")
    out = root / "run"
    runner.run(runner.RunConfig(model="noise", out=out, cases_dir=cases, metrics=METRICS, device="cpu", quiet=True))
    return write_bundle(out, root / "run.zip")


def rewrite(src: Path, dest: Path, change, rehash: bool = False) -> Path:
    """A copy of the bundle with `change(folder)` applied to its unpacked members; with `rehash`
    the manifest is rewritten to match, as a careful forger would."""
    work = dest.with_suffix(".d")
    with zipfile.ZipFile(src) as zf:
        zf.extractall(work)
    change(work)
    manifest = json.loads((work / MANIFEST).read_text())
    if rehash:
        files = {p.relative_to(work).as_posix(): p for p in work.rglob("*") if p.is_file() and p.name != MANIFEST}
        manifest["files"] = {n: {"sha256": file_sha256(p), "bytes": p.stat().st_size} for n, p in files.items()}
        (work / MANIFEST).write_text(json.dumps(manifest))
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(work.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(work).as_posix())
    shutil.rmtree(work)
    return dest


def edit_number(work: Path) -> None:
    with sqlite3.connect(work / "run" / "results.sqlite") as db:
        db.execute("UPDATE results SET value = value + 0.01 WHERE case_id='amb-001' AND output='Brightness'")


def replace_clip(work: Path) -> None:
    clip = work / "run" / "clips" / "sp-001.mp4"
    shutil.copyfile(work / "run" / "clips" / "amb-002.mp4", clip)


def remove_clip(work: Path) -> None:
    (work / "run" / "clips" / "cx-001.mp4").unlink()


def edit_identity(work: Path) -> None:
    doc = json.loads((work / "identity.json").read_text())
    doc["identity"]["seed"] = 7
    (work / "identity.json").write_text(json.dumps(doc))


def test_the_bundle_holds_every_file_with_its_hash(bundle):
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read(MANIFEST))
    assert manifest["format"] == FORMAT and set(manifest["files"]) == names - {MANIFEST}
    assert {"identity.json", "environment.json", "run/results.sqlite", "cases/cases.jsonl",
            "run/clips/amb-001.mp4", "run/clips/amb-001.wav", "run/run.json"} <= names
    assert not any(n.endswith("-wal") for n in names)


def test_an_untouched_bundle_passes_and_every_sampled_value_agrees(bundle):
    verdict = verify(bundle, sample=6, seed=3)
    assert verdict.passed, verdict.problems
    assert verdict.sample == ["amb-001", "amb-002", "cx-001", "cx-002", "sp-001", "sp-002"]
    keys = {c.metric_key for c in verdict.checks}
    assert keys == set(METRICS) and all(c.agrees for c in verdict.checks)
    assert len(verdict.checks) >= 6 * 2 + 4  # Brightness and Loudness per case, Picky per speech case...


def test_the_sample_is_seeded(bundle):
    assert verify(bundle, sample=2, seed=11).sample == verify(bundle, sample=2, seed=11).sample
    assert verify(bundle, sample=1, seed=None).seed is not None


@pytest.mark.parametrize("change, named", [
    (edit_number, "changed: run/results.sqlite"),
    (replace_clip, "changed: run/clips/sp-001.mp4"),
    (remove_clip, "missing: run/clips/cx-001.mp4"),
    (edit_identity, "changed: identity.json"),
])
def test_tampering_breaks_the_manifest(bundle, tmp_path, change, named):
    verdict = verify(rewrite(bundle, tmp_path / "t.zip", change), sample=6, seed=0)
    assert not verdict.passed
    assert any(p.startswith(named) for p in verdict.problems), verdict.problems


@pytest.mark.parametrize("change, named", [
    (edit_number, "re-scored amb-001 Brightness [brightness@test]: stored"),
    (replace_clip, "clip of sp-001: run/clips/sp-001.mp4 is not the clip the store recorded"),
    (remove_clip, "clip of cx-001: run/clips/cx-001.mp4 missing"),
    (edit_identity, "identity: identity.json differs from the identity in run/results.sqlite (seed (0 -> 7))"),
])
def test_tampering_with_a_rewritten_manifest_is_still_named(bundle, tmp_path, change, named):
    verdict = verify(rewrite(bundle, tmp_path / "t.zip", change, rehash=True), sample=6, seed=0)
    assert not verdict.passed
    assert any(p.startswith(named) for p in verdict.problems), verdict.problems


def test_verify_command_prints_the_seed_and_the_verdict(bundle, tmp_path, capsys):
    assert main(["verify", str(bundle), "--sample", "2", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "re-scored sample (seed 5)" in out and "PASS: 0 problem(s)" in out
    bad = rewrite(bundle, tmp_path / "bad.zip", remove_clip)
    assert main(["verify", str(bad), "--sample", "1", "--seed", "5"]) == 1
    assert "PROBLEM: missing: run/clips/cx-001.mp4" in capsys.readouterr().out
    assert main(["verify", str(bad), "--sample", "1", "--seed", "5", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] is False and doc["seed"] == 5 and "missing: run/clips/cx-001.mp4" in doc["problems"][0]


def test_a_tampered_bundle_is_refused_by_the_leaderboard(bundle, tmp_path):
    with pytest.raises(BundleError, match="cx-001.mp4"):
        open_bundle(rewrite(bundle, tmp_path / "bad.zip", remove_clip), tmp_path / "open")
    run = open_bundle(bundle, tmp_path / "ok")
    assert run.name == "run" and (run / "clips" / "amb-001.mp4").is_file()


@pytest.mark.slow
def test_leaderboard_site_from_a_bundle_holds_its_clips(bundle, tmp_path, capsys):
    site = tmp_path / "site"
    assert main(["leaderboard", str(bundle), "--site", str(site), "--previews", "--out", str(tmp_path / "t")]) == 0
    assert (site / "index.html").is_file() and (tmp_path / "t" / "leaderboard.md").is_file()
    page = (site / "cases" / "amb-001.html").read_text()
    href = page.split('<video class="clip"')[1].split(' src="')[1].split('"')[0]
    clip = (site / "cases" / href).resolve()
    assert clip.is_file() and clip.suffix == ".webm" and site.resolve() in clip.parents  # a preview inside the site
    assert (site / "runs" / "run" / "run" / "clips" / "amb-001.mp4").is_file()  # the bundle, unpacked in the site
    assert main(["leaderboard", str(bundle)]) == 2
    assert "needs --out" in capsys.readouterr().err
