"""Submission bundles: one zip file that anyone can check without trusting its sender.

    manifest.json          format, and the sha256 and size of every other member
    identity.json          the run's identity (model, case set hash, seed) and run id
    environment.json       Python, library versions, platform, when the bundle was made
    run/results.sqlite     the store (a single-file copy, no WAL)
    run/run.json, run/summary.json   when the run has them
    run/clips/...          every clip the store names
    cases/...              the case set the run was made on (its hash is part of the identity)

`verify` checks, in order: every member against the manifest (changed, missing, unlisted);
the identity against the store and the case set; every clip against the sha256 the store
recorded when it was generated and scored; then it scores a seeded random sample of cases again
with the metrics this machine can run and compares each value within the metric's tolerance.
Editing a file after bundling breaks its hash. Editing a file and rewriting the manifest to
match is caught by the cross-checks (the identity against the store's copy, each clip against
the hash the store recorded) and, for a number, by re-scoring when its case is in the sample and
its metric runs here. Clips made by another model than the one named cannot be told from the
clips alone: the bundle shows what was scored, not who generated it.
"""

from __future__ import annotations

import hashlib
import json
import platform
import random
import secrets
import shutil
import sqlite3
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from harmony_bench.runfolder import Identity, RunFolder, RunFolderError, file_sha256
from harmony_bench.store import DB_NAME, FINAL, ClipRow, Store

FORMAT = "harmony-bench-bundle/1"
MANIFEST = "manifest.json"
IDENTITY = "identity.json"
ENVIRONMENT = "environment.json"
RUN = "run"
CASES = "cases"
RUN_FILES = ("run.json", "summary.json")
STORED_SUFFIXES = (".mp4", ".webm", ".mkv", ".png", ".jpg")  # already compressed: stored as they are


class BundleError(RuntimeError):
    """A bundle that cannot be written or read; the message names the file and why."""


# -- writing -------------------------------------------------------------------------------

def write_bundle(run_dir: Path, out: Path) -> Path:
    """Pack a run into `out` (a zip, written whole or not at all); returns `out`."""
    from harmony_bench.runner import case_set_hash

    folder = RunFolder(run_dir)
    folder.require()
    with Store(folder.root, readonly=True) as store:
        identity, meta, clips = RunFolder.stored_identity(store), store.all_meta(), store.clips()
    if identity is None:
        raise RunFolderError(f"{folder.root}: the store has no run identity (made by an older harmony-bench?)")
    cases_dir = Path(meta.get("cases_dir") or "")
    if not (cases_dir / "cases.jsonl").is_file():
        raise RunFolderError(f"{folder.root}: its case set {cases_dir} is not there to bundle")
    if case_set_hash(cases_dir) != identity.case_set_sha256:
        raise RunFolderError(f"{cases_dir} has changed since the run was made (its sha256 is not the run's "
                             f"{identity.case_set_sha256[:12]}); bundle it where the run's case set is")
    members = _members(folder, cases_dir, clips)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bundle-", dir=out.parent) as tmp:
        members[f"{RUN}/{DB_NAME}"] = _single_file_copy(folder.root / DB_NAME, Path(tmp) / DB_NAME)
        texts = {IDENTITY: _json({"run_id": identity.run_id, "identity": identity.as_dict()}),
                 ENVIRONMENT: _json(environment())}
        staged = Path(tmp) / "bundle.zip"
        _write_zip(staged, members, texts)
        staged.replace(out)
    return out


def _members(folder: RunFolder, cases_dir: Path, clips: list[ClipRow]) -> dict[str, Path]:
    """Bundle name -> file on disk: the run's files, its clips and its case set."""
    members = {f"{RUN}/{name}": folder.root / name for name in RUN_FILES if (folder.root / name).is_file()}
    for clip in clips:
        for stored in (clip.video_path, clip.audio_path):
            path = folder.absolute(stored)
            if path is None or not path.is_file():
                continue  # a failed generation has no file; the store says why
            if Path(stored).is_absolute():
                raise RunFolderError(f"{clip.case_id}: its clip {path} lies outside the run folder; "
                                     "copy it into the run before bundling")
            members[f"{RUN}/{Path(stored).as_posix()}"] = path
    for path in sorted(p for p in cases_dir.rglob("*") if p.is_file()):
        members[f"{CASES}/{path.relative_to(cases_dir).as_posix()}"] = path
    return members


def _single_file_copy(db: Path, dest: Path) -> Path:
    """The store as one self-contained file: rows still in the WAL are folded in."""
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dst = sqlite3.connect(str(dest))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        src.close()
        dst.close()
    return dest


def _write_zip(path: Path, members: dict[str, Path], texts: dict[str, str]) -> None:
    files = {}
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in texts.items():
            data = text.encode()
            zf.writestr(name, data, zipfile.ZIP_DEFLATED)
            files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        for name, src in sorted(members.items()):
            method = zipfile.ZIP_STORED if src.suffix.lower() in STORED_SUFFIXES else zipfile.ZIP_DEFLATED
            zf.write(src, name, method)
            files[name] = {"sha256": file_sha256(src), "bytes": src.stat().st_size}
        zf.writestr(MANIFEST, _json({"format": FORMAT, "files": files}), zipfile.ZIP_DEFLATED)


def environment() -> dict:
    from harmony_bench.runner import library_versions

    return {"libraries": library_versions(), "platform": platform.platform(), "machine": platform.machine(),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _json(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- reading -------------------------------------------------------------------------------

def extract(bundle: Path, dest: Path) -> list[str]:
    """Unpack a bundle into `dest` and check every member against the manifest; returns the
    problems found (empty: every file is as bundled). Member names never leave `dest`."""
    bundle, dest = Path(bundle), Path(dest)
    try:
        with zipfile.ZipFile(bundle) as zf:
            names = zf.namelist()
            for name in names:
                if name.startswith("/") or ".." in Path(name).parts:
                    raise BundleError(f"{bundle}: member {name!r} would be written outside the bundle's folder")
            zf.extractall(dest)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{bundle}: not a readable bundle ({exc})") from None
    try:
        manifest = json.loads((dest / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{bundle}: no readable {MANIFEST} ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{bundle}: format {manifest.get('format')!r}, this harmony-bench reads {FORMAT}")
    return _hash_problems(manifest["files"], dest, set(names) - {MANIFEST})


def _hash_problems(listed: dict, root: Path, present: set[str]) -> list[str]:
    problems = [f"missing: {name} is in the manifest but not in the bundle" for name in sorted(set(listed) - present)]
    problems += [f"unlisted: {name} is in the bundle but not in the manifest" for name in sorted(present - set(listed))]
    for name in sorted(set(listed) & present):
        got = file_sha256(root / name)
        if got != listed[name]["sha256"]:
            problems.append(f"changed: {name} (sha256 {got[:12]}, the manifest says {listed[name]['sha256'][:12]})")
    return problems


def open_bundle(bundle: Path, dest: Path) -> Path:
    """Unpack a bundle as a run folder for reports, refused when any file fails its hash. The run
    folder is named after the bundle (reports label runs by folder name) and its case set path
    points at the bundled cases. Returns the run folder."""
    problems = extract(bundle, dest)
    if problems:
        raise BundleError(f"{bundle} fails its manifest, refused: " + "; ".join(problems[:5]))
    run_dir = (dest / RUN).rename(dest / Path(bundle).stem)
    _repoint_cases(run_dir, dest / CASES)
    return run_dir


def _repoint_cases(run_dir: Path, cases_dir: Path) -> None:
    cases = str(cases_dir.resolve())
    with Store(run_dir) as store:
        store.set_meta("cases_dir", cases)
    info_path = run_dir / "run.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        info_path.write_text(json.dumps({**info, "cases_dir": cases}, indent=2, sort_keys=True))


def run_folders(paths: list[Path], unpack_to: Path) -> list[Path]:
    """Run folders as they are, bundles unpacked under `unpack_to` (each replacing an earlier copy)."""
    out = []
    for path in map(Path, paths):
        if path.is_file():
            target = unpack_to / path.stem
            shutil.rmtree(target, ignore_errors=True)
            out.append(open_bundle(path, target))
        else:
            out.append(path)
    return out


# -- verifying -----------------------------------------------------------------------------

@dataclass
class Check:
    """One value scored again: the stored value, the new one, and whether they agree."""

    case_id: str
    metric_key: str
    output: str
    stored: str  # "0.1234" or a status ("unscorable")
    again: str
    agrees: bool
    tolerance: str


@dataclass
class Verdict:
    bundle: Path
    run_id: str = ""
    model: str = ""
    files: int = 0
    problems: list[str] = field(default_factory=list)  # each names the file, case or metric
    notes: list[str] = field(default_factory=list)  # what could not be checked here, and why
    seed: int | None = None
    sample: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"bundle {self.bundle}: run {self.run_id or '?'}, model {self.model or '?'}",
               f"files: {self.files} checked against the manifest"]
        if self.seed is not None:
            out.append(f"re-scored sample (seed {self.seed}): {', '.join(self.sample) or 'no case'}")
        out += [f"  {'agrees' if c.agrees else 'DIFFERS'}: {c.case_id} {c.output} [{c.metric_key}] stored "
                f"{c.stored}, now {c.again}" for c in self.checks]
        out += [f"note: {n}" for n in self.notes]
        out += [f"PROBLEM: {p}" for p in self.problems]
        agreed = sum(c.agrees for c in self.checks)
        out.append(f"{'PASS' if self.passed else 'FAIL'}: {len(self.problems)} problem(s); "
                   f"{agreed} of {len(self.checks)} re-scored values agree")
        return out


def verify(bundle: Path, sample: int = 5, seed: int | None = None) -> Verdict:
    """Check a bundle (see the module's docstring); `seed` None draws one (printed in the verdict)."""
    verdict = Verdict(Path(bundle))
    with tempfile.TemporaryDirectory(prefix="harmony-bench-verify-") as tmp:
        root = Path(tmp)
        verdict.problems += extract(bundle, root)
        verdict.files = len(json.loads((root / MANIFEST).read_text())["files"])
        if not (root / RUN / DB_NAME).is_file():
            verdict.problems.append(f"missing: {RUN}/{DB_NAME}, nothing else can be checked")
            return verdict
        _repoint_cases(root / RUN, root / CASES)
        identity = _check_identity(root, verdict)
        clips = _check_clips(root, verdict)
        if identity is not None and (root / CASES / "cases.jsonl").is_file():
            verdict.seed = secrets.randbelow(2**31) if seed is None else seed
            _rescore(root, identity, clips, sample, verdict)
    return verdict


def _check_identity(root: Path, verdict: Verdict) -> Identity | None:
    from harmony_bench.runner import case_set_hash

    with Store(root / RUN, readonly=True) as store:
        meta = store.all_meta()
        run_ids = {r[0] for r in store.conn.execute("SELECT run_id FROM results UNION SELECT run_id FROM clips")}
    try:
        claimed = json.loads((root / IDENTITY).read_text())
        identity = Identity.from_dict(claimed["identity"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        verdict.problems.append(f"identity: {IDENTITY} is missing or unreadable ({exc})")
        return None
    verdict.run_id, verdict.model = identity.run_id, str(identity.model.get("name") or "")
    if meta.get("identity") != identity.as_dict():
        verdict.problems.append(f"identity: {IDENTITY} differs from the identity in {RUN}/{DB_NAME} "
                                f"({'; '.join(identity.differences(Identity.from_dict(meta['identity'])))})"
                                if meta.get("identity") else f"identity: {RUN}/{DB_NAME} holds no identity")
    if claimed.get("run_id") != identity.run_id or meta.get("run_id") != identity.run_id:
        verdict.problems.append(f"identity: the run id {claimed.get('run_id')} is not the hash of the identity "
                                f"({identity.run_id})")
    others = sorted(run_ids - {identity.run_id})
    if others:
        verdict.problems.append(f"identity: rows of the store carry run id(s) {', '.join(others)}, "
                                f"not {identity.run_id}")
    if (root / CASES).is_dir() and case_set_hash(root / CASES) != identity.case_set_sha256:
        verdict.problems.append(f"identity: the bundled case set does not hash to the identity's "
                                f"{identity.case_set_sha256[:12]}")
    return identity


def _check_clips(root: Path, verdict: Verdict) -> dict[str, ClipRow]:
    """Every clip the store names must be there and hash to what was recorded when it was made
    and scored; returns the clips that pass, by case."""
    folder = RunFolder(root / RUN)
    with Store(folder.root, readonly=True) as store:
        clips = [c for c in store.clips() if c.status == "ok"]
        scored = {}
        for case_id, sha in store.conn.execute("SELECT DISTINCT case_id, clip_sha256 FROM results "
                                               "WHERE clip_sha256 IS NOT NULL"):
            scored.setdefault(case_id, set()).add(sha)
    good = {}
    for clip in clips:
        paths = [folder.absolute(p) for p in (clip.video_path, clip.audio_path) if p]
        absent = [p for p in paths if not p.is_file()]
        if absent:
            verdict.problems.append(f"clip of {clip.case_id}: {', '.join(str(p.relative_to(root)) for p in absent)} "
                                    "missing")
            continue
        got = file_sha256(*paths)
        if got != clip.sha256:
            verdict.problems.append(f"clip of {clip.case_id}: {paths[0].relative_to(root)} is not the clip the store "
                                    f"recorded (sha256 {got[:12]}, recorded {str(clip.sha256)[:12]})")
        elif scored.get(clip.case_id, {got}) != {got}:
            verdict.problems.append(f"clip of {clip.case_id}: its scores were computed from another clip")
        else:
            good[clip.case_id] = clip
    return good


def _rescore(root: Path, identity: Identity, clips: dict[str, ClipRow], sample: int, verdict: Verdict) -> None:
    from harmony_bench.cases import load_cases

    cases = {c.id: c for c in load_cases(root / CASES, validate=False)}
    candidates = sorted(set(clips) & set(cases))
    verdict.sample = sorted(random.Random(verdict.seed).sample(candidates, min(sample, len(candidates))))
    with Store(root / RUN, readonly=True) as store:
        # only final rows: a metric that could not run for the sender says nothing to compare with
        stored = [r for r in store.results() if r["case_id"] in verdict.sample and r["status"] in FINAL]
    slots = _runnable_slots(sorted({r["metric_key"] for r in stored}), stored, verdict)
    if not slots:
        return
    worker = _worker(root, identity, slots)  # each metric model loaded once for the whole sample
    try:
        rescored = {case_id: _score_again(worker, cases[case_id], clips[case_id]) for case_id in verdict.sample}
    finally:
        worker.close()
    for case_id, again in rescored.items():
        for row in (r for r in stored if r["case_id"] == case_id and r["metric_key"] in again):
            new = again[row["metric_key"]].get(row["output"])
            if new is not None and new["status"] not in FINAL:  # this machine's failure, not the bundle's
                verdict.notes.append(f"{case_id} {row['metric_key']}: could not score again here ({new['error']})")
                continue
            verdict.checks.append(_compare(row, new, slots[row["metric_key"]].metric.tolerance))
    verdict.problems += [f"re-scored {c.case_id} {c.output} [{c.metric_key}]: stored {c.stored}, scored again "
                         f"{c.again} ({c.tolerance})" for c in verdict.checks if not c.agrees]


def _runnable_slots(keys: list[str], stored: list[dict], verdict: Verdict) -> dict:
    """metric key -> a prepared slot, for the metrics that run here under the stored protocol."""
    from harmony_bench.metrics.registry import METRICS, load_builtin
    from harmony_bench.runner import prepare_metrics

    load_builtin()
    slots = {}
    for key in keys:
        if key not in METRICS:
            verdict.notes.append(f"{key}: not installed here, not re-scored")
            continue
        slot = prepare_metrics([key], "cpu")[0]
        stamps = {(r["protocol_version"], r["weights_sha256"]) for r in stored if r["metric_key"] == key}
        if slot.reason:
            verdict.notes.append(f"{key}: cannot run here, not re-scored ({slot.reason})")
        elif stamps != {(slot.metric.version, slot.weights)}:
            verdict.notes.append(f"{key}: stored under another protocol version or weights than this machine's "
                                 f"(v{slot.metric.version}), not re-scored")
        else:
            slots[key] = slot
    return slots


def _worker(root: Path, identity: Identity, slots: dict):
    """The runner's own evaluation worker over the slots, as a run's evaluation uses it."""
    from harmony_bench.runner import EvaluationWorker, _RowStamp, library_versions

    stamp = _RowStamp(identity.run_id, "verify", identity.seed, identity.run_id, library_versions())
    return EvaluationWorker(list(slots.values()), "cpu", root / RUN, stamp)


def _score_again(worker, case, clip: ClipRow) -> dict[str, dict[str, dict]]:
    """metric key -> output -> the new row (as a dict), scored by the runner's own worker."""
    from dataclasses import asdict

    rows = worker.run((case, list(range(len(worker.slots))), clip))
    out: dict[str, dict[str, dict]] = {}
    for row in rows:
        out.setdefault(row.metric_key, {})[row.output] = asdict(row)
    return out


def _compare(stored: dict, again: dict | None, tolerance) -> Check:
    def shown(row: dict | None) -> str:
        if row is None:
            return "no value"
        return f"{row['value']:.6g}" if row["status"] == "ok" else row["status"]

    if stored["status"] == "ok" and again is not None and again["status"] == "ok":
        agrees = tolerance.agrees(float(stored["value"]), float(again["value"]))
    else:
        agrees = again is not None and stored["status"] == again["status"]
    return Check(stored["case_id"], stored["metric_key"], stored["output"], shown(stored), shown(again), agrees,
                 tolerance.describe())
