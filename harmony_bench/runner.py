"""Runs: generate clips with a model, evaluate them with metrics, store every number.

Data flow: cases -> model adapter -> clips/ -> each clip decoded once -> metrics -> store.
Everything is resumable: a (case, metric) already stored under the same protocol version and
weights hash is skipped; a failure in one case or metric is stored with its reason and the run
goes on.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
import zlib
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from harmony_bench.cases import DEFAULT_CASES_DIR, Case, load_cases
from harmony_bench.media import Clip, ClipError, read_clip
from harmony_bench.store import ClipRow, ResultRow, Store
from harmony_bench.weights import OVERRIDE_MARK, WeightsMismatch, WeightsMissing, expected_sha256, resolve


@dataclass
class RunConfig:
    model: str | None  # model spec, "name[:arg]"; None = use the clips already in the run
    out: Path
    cases_dir: Path = DEFAULT_CASES_DIR
    subset: str | None = None
    limit: int | None = None
    metrics: list[str] | None = None  # registry keys; None = every registered metric
    shard: tuple[int, int] = (1, 1)  # (K, N), 1-based
    seed: int = 0
    device: str = "auto"
    quiet: bool = False

    @property
    def run_id(self) -> str:
        return Path(self.out).resolve().name


@dataclass
class Summary:
    cases: int = 0
    clips_generated: int = 0
    clips_reused: int = 0
    clips_failed: int = 0
    rows: dict = field(default_factory=lambda: {"ok": 0, "unscorable": 0, "unavailable": 0, "error": 0, "skipped": 0})
    problems: list[str] = field(default_factory=list)  # one line per failure, "case metric: reason"
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.clips_failed + self.rows["error"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_json(self) -> dict:
        return {**asdict(self), "failed": self.failed}


# -- cases and shards --------------------------------------------------------------------
def select_cases(cfg: RunConfig) -> list[Case]:
    cases = sorted(load_cases(cfg.cases_dir, subset=cfg.subset), key=lambda c: c.id)
    if cfg.limit:
        cases = _first_per_subset(cases, cfg.limit)
    return shard_cases(cases, *cfg.shard)


def _first_per_subset(cases: list[Case], limit: int) -> list[Case]:
    """`--limit N` keeps the first N cases of each subset, so a quick run still covers all three."""
    seen: dict[str, int] = {}
    out = []
    for c in cases:
        seen[c.subset] = seen.get(c.subset, 0) + 1
        if seen[c.subset] <= limit:
            out.append(c)
    return out


def shard_cases(cases: list[Case], k: int, n: int) -> list[Case]:
    """Deterministic split by a hash of the case id: the same case always lands in the same shard."""
    if not 1 <= k <= n:
        raise ValueError(f"shard {k}/{n}: K must be in 1..N")
    return [c for c in cases if zlib.crc32(c.id.encode()) % n == k - 1]


def case_set_hash(root: Path) -> str:
    """sha256 over the case file and every asset, so leaderboards can tell case sets apart."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for dist in ("harmony-bench", "torch", "torchvision", "torchaudio", "numpy", "av", "transformers",
                 "mediapipe", "openai-whisper", "audiobox-aesthetics", "imagebind-unofficial", "jiwer"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _open_store(cfg: RunConfig, model_desc: dict | None) -> Store:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    store = Store(out)
    store.set_meta("cases_dir", str(Path(cfg.cases_dir).resolve()))
    store.set_meta("run_id", cfg.run_id)
    if model_desc is not None:
        store.set_meta("model", model_desc)
        store.set_meta("seed", cfg.seed)
    return store


def _progress(items, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="case", disable=quiet, dynamic_ncols=True)


# -- generation --------------------------------------------------------------------------
def generate(cfg: RunConfig, summary: Summary | None = None) -> Summary:
    from harmony_bench.models import get_model

    summary = summary or Summary()
    cases = select_cases(cfg)
    summary.cases = len(cases)
    model = get_model(cfg.model, device=resolve_device(cfg.device))
    summary.notes += model.preflight(cases)
    clips_dir = Path(cfg.out) / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    with _open_store(cfg, model.describe()) as store:
        store.set_meta("model_name", model.name)
        _write_run_json(cfg, store, model.describe())
        for case in _progress(cases, f"generate {model.name}", cfg.quiet):
            stored = store.clip(cfg.run_id, model.name, case.id)
            if stored and stored.status == "ok" and stored.seed == cfg.seed and Path(stored.video_path).is_file():
                summary.clips_reused += 1
                continue
            start = time.time()
            try:
                clip = model.generate(case, cfg.seed, clips_dir)
                row = ClipRow(cfg.run_id, model.name, case.id, case.subset, str(clip.video),
                              str(clip.audio) if clip.audio else None, "ok", None, time.time() - start, cfg.seed)
                summary.clips_generated += 1
            except Exception as exc:  # one case's failure must not stop the run
                row = ClipRow(cfg.run_id, model.name, case.id, case.subset, None, None, "error",
                              f"{type(exc).__name__}: {exc}", time.time() - start, cfg.seed)
                summary.clips_failed += 1
                summary.problems.append(f"{case.id} generation: {row.error}")
            store.write_case([], clip=row)
    return summary


def _write_run_json(cfg: RunConfig, store: Store, model_desc: dict) -> None:
    info = {
        "run_id": cfg.run_id, "model": cfg.model, "model_info": model_desc, "cases_dir": str(Path(cfg.cases_dir).resolve()),
        "case_set_sha256": case_set_hash(cfg.cases_dir), "subset": cfg.subset, "limit": cfg.limit,
        "shard": list(cfg.shard), "seed": cfg.seed, "versions": library_versions(),
    }
    store.set_meta("case_set_sha256", info["case_set_sha256"])
    (Path(cfg.out) / "run.json").write_text(json.dumps(info, indent=2, sort_keys=True))


# -- evaluation --------------------------------------------------------------------------
@dataclass
class _Slot:
    """A metric prepared for a run: its instance, why it cannot run, and its weights stamp."""

    metric: object
    reason: str | None  # None: can run
    reason_status: str = "unavailable"
    weights: str = ""
    setup_error: str | None = None

    def stamp(self) -> set[tuple[str, str, str]]:
        m = self.metric
        return {(o.name, m.version, self.weights) for o in m.outputs}


def prepare_metrics(keys: list[str] | None, device: str) -> list[_Slot]:
    from metrics.registry import all_metric_keys, get_metric

    slots = []
    for key in keys or all_metric_keys():
        metric = get_metric(key)(device=device)
        reason, status, weights = metric.availability(), "unavailable", ""
        if reason is None:
            try:
                weights = ";".join(f"{wf.name}={resolve(wf)[1]}" for wf in metric.weights)
                if any(expected_sha256(wf) != wf.sha256 for wf in metric.weights):
                    # checked against $HARMONY_BENCH_MANIFEST (e.g. test weights), not the shipped
                    # manifest: the reports keep such numbers out of the paper's columns
                    weights += f";{OVERRIDE_MARK}=1"
            except WeightsMismatch as exc:
                reason, status = str(exc), "error"
            except WeightsMissing as exc:
                reason = str(exc)
        slots.append(_Slot(metric, reason, status, weights))
    return slots


def evaluate(cfg: RunConfig, summary: Summary | None = None) -> Summary:
    summary = summary or Summary()
    device = resolve_device(cfg.device)
    slots = prepare_metrics(cfg.metrics, device)
    versions = library_versions()
    with _open_store(cfg, None) as store:
        model_name = store.meta("model_name")
        if model_name is None:
            raise RuntimeError(f"{cfg.out}: no clips in this run yet; run `harmony-bench generate` first or pass --model")
        cases = select_cases(cfg)
        summary.cases = summary.cases or len(cases)
        config_hash = hashlib.sha256(json.dumps([store.meta("model"), cfg.seed], sort_keys=True).encode()).hexdigest()[:16]
        done = {s.metric.key: store.done_stamps(cfg.run_id, model_name, s.metric.key) for s in slots}
        for case in _progress(cases, "evaluate", cfg.quiet):
            todo = [s for s in slots if case.subset in s.metric.subsets
                    and not s.stamp() <= done[s.metric.key].get(case.id, set())]
            summary.rows["skipped"] += sum(case.subset in s.metric.subsets for s in slots) - len(todo)
            if not todo:
                continue
            rows = _evaluate_case(case, todo, store.clip(cfg.run_id, model_name, case.id),
                                  _RowStamp(cfg.run_id, model_name, cfg.seed, config_hash, versions))
            store.write_case(rows)
            firsts = {s.metric.key: s.metric.outputs[0].name for s in todo}
            for r in rows:
                if r.output != firsts[r.metric_key]:
                    continue  # count (case, metric) pairs, not outputs
                summary.rows[r.status] += 1
                if r.status == "error":
                    summary.problems.append(f"{r.case_id} {r.metric_key}: {r.error}")
    return summary


@dataclass
class _RowStamp:
    run_id: str
    model: str
    seed: int
    config_hash: str
    versions: dict


def _evaluate_case(case: Case, slots: list[_Slot], clip_row: ClipRow | None, st: _RowStamp) -> list[ResultRow]:
    clip: Clip | None = None
    clip_problem = None
    if clip_row is None:
        clip_problem = "no clip generated for this case"
    elif clip_row.status != "ok":
        clip_problem = f"generation failed: {clip_row.error}"
    else:
        try:
            clip = read_clip(clip_row.video_path, clip_row.audio_path)
        except ClipError as exc:
            clip_problem = f"clip unreadable: {exc}"
    rows = []
    for slot in slots:
        start = time.time()
        if slot.reason:
            result = ({}, slot.reason_status, slot.reason, {})
        elif clip_problem:
            result = ({}, "error", clip_problem, {})
        else:
            result = _score(slot, clip, case)
        rows += _rows(slot, case, st, *result, start)
    return rows


def _score(slot: _Slot, clip: Clip, case: Case) -> tuple[dict, str, str | None, dict]:
    from metrics.base import MetricUnavailable, NotScorable

    metric = slot.metric
    if slot.setup_error:
        return {}, "error", slot.setup_error, {}
    try:
        metric.setup()
    except MetricUnavailable as exc:
        slot.reason = str(exc)
        return {}, "unavailable", slot.reason, {}
    except Exception as exc:
        slot.setup_error = f"setup failed: {type(exc).__name__}: {exc}"
        return {}, "error", slot.setup_error, {}
    try:
        score = metric.score(clip, case)
    except NotScorable as exc:
        return {}, "unscorable", str(exc), {}
    except Exception as exc:
        return {}, "error", f"{type(exc).__name__}: {exc}", {}
    bad = [o.name for o in metric.outputs if not _finite(score.values.get(o.name))]
    if bad:
        return {}, "error", f"metric returned no finite value for {', '.join(bad)}", score.details
    return score.values, "ok", None, score.details


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _rows(slot: _Slot, case: Case, st: _RowStamp, values: dict, status: str, error: str | None,
          details: dict, start: float) -> list[ResultRow]:
    m = slot.metric
    return [ResultRow(
        run_id=st.run_id, model=st.model, case_id=case.id, subset=case.subset, metric_key=m.key,
        output=o.name, family=m.family, paper=o.paper, direction=o.direction, backend=m.backend,
        official=m.official, protocol_version=m.version, weights_sha256=slot.weights,
        value=float(values[o.name]) if status == "ok" else None, status=status, error=error,
        details=details if i == 0 else {}, lib_versions=st.versions, seed=st.seed,
        config_hash=st.config_hash, started_at=start, finished_at=time.time())
        for i, o in enumerate(m.outputs)]


# -- the whole job -----------------------------------------------------------------------
def run(cfg: RunConfig) -> Summary:
    """generate -> evaluate -> report."""
    summary = generate(cfg)
    evaluate(cfg, summary)
    report(cfg.out, summary)
    return summary


def report(run_dir: Path, summary: Summary | None = None) -> list[Path]:
    from reports import write_run_report

    paths = write_run_report(Path(run_dir))
    if summary is not None:
        (Path(run_dir) / "summary.json").write_text(json.dumps(summary.to_json(), indent=2))
    return paths
