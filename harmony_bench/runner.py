"""Runs: generate clips with a model, evaluate them with metrics, store every number.

Data flow: cases -> model adapter -> clips/ -> each clip decoded once -> metrics -> store.
The per-case work runs in workers (this process, or Ray actors: `harmony_bench.executors`); this
process alone plans each case under its lock, publishes clips and writes the store.
Everything is resumable: a (case, metric) already stored under the same protocol version and
weights hash is skipped; a failure in one case or metric is stored with its reason and the run
goes on.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from harmony_bench.cases import DEFAULT_CASES_DIR, Case, load_cases
from harmony_bench.executors import WAIT, WorkerLost, batched, check_executor, open_pool, unbatched
from harmony_bench.media import Clip, ClipError, read_clip, release_freed_memory
from harmony_bench.models.base import GeneratedClip
from harmony_bench.runfolder import Identity, RunFolder, RunFolderError, atomic_write, file_sha256
from harmony_bench.store import ClipRow, ResultRow, Store, describe_os_error
from harmony_bench.threads import generation_threads, use_one_torch_thread
from harmony_bench.weights import OVERRIDE_MARK, WeightsMismatch, WeightsMissing, expected_sha256, resolve


@dataclass
class RunConfig:
    model: str | None  # model spec, "name[:arg]"; None = use the clips already in the run
    out: Path
    cases_dir: Path | None = None  # None: the run's own case set, else Harmony-Bench v1
    subset: str | None = None
    limit: int | None = None
    metrics: list[str] | None = None  # registry keys; None = every registered metric
    shard: tuple[int, int] = (1, 1)  # (K, N), 1-based
    seed: int = 0
    device: str = "auto"
    quiet: bool = False
    overwrite: bool = False  # discard a run of another identity stored in `out`
    executor: str = "local"  # "local": this process; "ray": Ray actors (see harmony_bench.executors)
    ray_address: str | None = None  # join this Ray cluster; None: start a local one
    workers: int | None = None  # Ray workers per phase; None: as many as the cluster fits
    gpus_per_worker: float | None = None  # None: 1 when the cluster has GPUs and --device is not cpu
    metric_threads: int | None = None  # metrics of one clip scored at once; None: see metric_threads()
    batch_size: int | None = None  # cases per generate_batch call; None: the model's own default
    generation_threads: int | None = None  # batches generated at once; None: see threads.generation_threads


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


# -- checks before any work ----------------------------------------------------------------
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_config(cfg: RunConfig) -> None:
    """Everything a command needs, checked before any work: a mistake found after an hour of
    generation costs that hour. Raises ValueError naming the option."""
    if cfg.limit is not None and cfg.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {cfg.limit}")
    for flag, value in (("--metric-threads", cfg.metric_threads), ("--batch-size", cfg.batch_size),
                        ("--generation-threads", cfg.generation_threads)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be at least 1, got {value}")
    k, n = cfg.shard
    if not 1 <= k <= n:
        raise ValueError(f"--shard {k}/{n}: K must be in 1..N")
    if cfg.metrics is not None:
        check_metric_keys(cfg.metrics)
    check_executor(cfg)
    if cfg.executor == "local":
        resolve_device(cfg.device)
    out = Path(cfg.out)
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"--out {out}: {parent} is a file, not a folder")
            break
    if cfg.cases_dir is not None and not Path(cfg.cases_dir).is_dir():
        raise ValueError(f"--cases {cfg.cases_dir}: no such folder")


def check_metric_keys(keys: list[str]) -> None:
    import difflib

    from harmony_bench.metrics.registry import all_metric_keys

    if not keys:
        raise ValueError("--metrics names no metric; leave it out to run every metric")
    known = all_metric_keys()
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else " (see `harmony-bench metrics`)"
            raise ValueError(f"unknown metric {key!r}{hint}")


def resolve_device(device: str) -> str:
    if not DEVICE_PATTERN.match(device or ""):
        raise ValueError(f"--device {device!r}: expected auto, cpu, mps, cuda or cuda:N")
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            raise ValueError(f"--device {device}: this machine has {count} CUDA device(s)")
    return device


# -- cases and shards --------------------------------------------------------------------
def cases_dir_for(cfg: RunConfig, store: Store | None = None) -> Path:
    """The case set of a command: --cases, else the one the run at --out was made with, else v1."""
    if cfg.cases_dir is not None:
        return Path(cfg.cases_dir)
    if store is None and cfg.out is not None and RunFolder(cfg.out).exists():
        with Store(cfg.out, readonly=True) as existing:  # `generate` into an existing run: its own cases
            return cases_dir_for(cfg, existing)
    stored = store.meta("cases_dir") if store is not None else None
    if stored and Path(stored).is_dir():
        return Path(stored)
    return DEFAULT_CASES_DIR


def select_cases(cfg: RunConfig, cases_dir: Path | None = None) -> list[Case]:
    cases = sorted(load_cases(cases_dir or cases_dir_for(cfg), subset=cfg.subset), key=lambda c: c.id)
    if cfg.limit is not None:
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
    """sha256 over the case file and every asset: the case-set part of a run's identity."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.suffix != ".py"):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for dist in ("harmony-bench", "torch", "torchvision", "torchaudio", "numpy", "av", "transformers",
                 "mediapipe", "openai-whisper", "audiobox-aesthetics", "imagebind-unofficial", "jiwer"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _progress(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="case", disable=quiet, dynamic_ncols=True)


def _each_case(folder: RunFolder, cases: list[Case], desc: str, quiet: bool, plan, pool, finish,
               batch: int | None = None) -> None:
    """The one loop of both phases. For each case, under its lock: `plan(case)` returns the job
    to do (None: nothing to do), the pool runs it (in this process, or on workers several at a
    time) and `finish(case, job, result)` stores the result. With `batch`, the pool's jobs are
    batches of up to that many planned jobs (a result per job comes back). The lock is held
    from plan to finish. Cases another process holds are taken last, waiting for it, so two processes on one
    folder split the work and never write the same case at once; `plan` re-reads what the other
    stored before redoing it. The jobs handed to the pool may include WAIT: run no new job
    before a result has come back."""
    bar = _progress(len(cases), desc, quiet)
    pending: dict[str, tuple[ExitStack, object]] = {}  # case id -> (its lock, its job)

    def planned(case: Case, lock: ExitStack):
        try:
            job = plan(case)
        except BaseException:
            lock.close()
            raise
        if job is None:
            lock.close()
            bar.update()
            return
        pending[case.id] = (lock, job)
        yield case, job

    def jobs():
        waiting = []
        for case in cases:
            lock = _case_lock(folder, case.id, blocking=False)
            if lock is None:
                waiting.append(case)
            else:
                yield from planned(case, lock)
        for case in waiting:
            # wait for another process only while holding no case in flight: two drivers each
            # waiting for a case the other holds would wait forever
            while (lock := _case_lock(folder, case.id, blocking=not pending)) is None:
                yield WAIT
            yield from planned(case, lock)

    results = pool.map(jobs()) if batch is None else unbatched(pool.map(batched(jobs(), batch)))
    try:
        for case, result in results:
            lock, job = pending.pop(case.id)
            try:
                finish(case, job, result)
            finally:
                lock.close()
                bar.update()
    finally:
        for lock, _ in pending.values():
            lock.close()
        bar.close()


def _case_lock(folder: RunFolder, case_id: str, blocking: bool) -> ExitStack | None:
    """The case's lock, held until the returned stack is closed; None if another process holds it."""
    lock = ExitStack()
    if lock.enter_context(folder.case_lock(case_id, blocking=blocking)):
        return lock
    lock.close()
    return None


# -- generation --------------------------------------------------------------------------
FATAL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


def generate(cfg: RunConfig, summary: Summary | None = None) -> Summary:
    check_config(cfg)
    summary = summary or Summary()
    cases_dir = cases_dir_for(cfg)
    cases = select_cases(cfg, cases_dir)
    summary.cases = len(cases)
    folder = RunFolder(cfg.out)
    jobs_at_once = generation_threads(cfg.generation_threads, cfg.executor, _device_kind(cfg))
    with open_pool(cfg, GenerationWorker, cfg.model, cfg.device, folder.root, cfg.seed,
                   threads=jobs_at_once) as pool:
        model_identity, model_name = pool.call("identity")
        batch = cfg.batch_size or _default_batch(pool.call("batch_size"), len(cases), jobs_at_once)
        identity = Identity(model_identity, case_set_hash(cases_dir), cfg.seed)
        with folder.open(identity, cases_dir, overwrite=cfg.overwrite) as store, folder.folder_lock():
            folder.write_run_json(store, {"model_spec": cfg.model, "subset": cfg.subset, "limit": cfg.limit,
                                          "shard": list(cfg.shard), "versions": library_versions()})
            folder.clear_abandoned_staging()
            summary.notes += pool.call("preflight", cases)

            def plan(case: Case) -> Case | None:
                if _reusable(folder, store.clip(case.id), cfg.seed):
                    summary.clips_reused += 1
                    return None
                return case

            def finish(case: Case, _job, staged: "StagedClip | WorkerLost") -> None:
                row = _publish(folder, staged, case, model_name, cfg.seed, identity.run_id)
                if row.status == "ok":
                    summary.clips_generated += 1
                else:
                    summary.clips_failed += 1
                    summary.problems.append(f"{case.id} generation: {row.error}")
                store.write_case([], clip=row)

            _each_case(folder, cases, f"generate {model_name}", cfg.quiet, plan, pool, finish, batch)
    return summary


def _default_batch(model_batch: int, cases: int, jobs_at_once: int) -> int:
    """The model's batch size, made smaller where a few cases would otherwise leave a thread idle."""
    return max(1, min(model_batch, math.ceil(cases / jobs_at_once)))


def _device_kind(cfg: RunConfig) -> str:
    """"cpu" when the generation computes on the CPU (Ray workers resolve their own device)."""
    return resolve_device(cfg.device) if cfg.executor == "local" else cfg.device


def _reusable(folder: RunFolder, stored: ClipRow | None, seed: int) -> bool:
    """A stored clip is reused only if it is this seed's, still on disk and unchanged."""
    if stored is None or stored.status != "ok" or stored.seed != seed:
        return False
    video, audio = folder.absolute(stored.video_path), folder.absolute(stored.audio_path)
    if video is None or not video.is_file() or (audio is not None and not audio.is_file()):
        return False
    return file_sha256(video, audio) == stored.sha256


@dataclass
class StagedClip:
    """A clip written into a staging folder by a worker, not yet published."""

    staging: Path | None
    video: Path | None = None
    audio: Path | None = None
    sha256: str | None = None
    seconds: float = 0.0
    error: str | None = None  # None: generated


class GenerationWorker:
    """Loads the model once and stages the clips of a batch of cases per call (calls may run
    on several threads at once). Runs in the driver's process or as a Ray actor; either way the
    driver alone publishes the clips and writes the store."""

    def __init__(self, spec: str, device: str, root: Path, seed: int):
        from harmony_bench.models import get_model

        device = resolve_device(device)
        self.model = get_model(spec, device=device)
        if device == "cpu" and "torch" in sys.modules:  # a torch model; the others never import it
            use_one_torch_thread()  # the cores are filled with jobs instead (harmony_bench.threads)
        self.folder, self.seed = RunFolder(root), seed

    def batch_size(self) -> int:
        return self.model.batch_size

    def identity(self) -> tuple[dict, str]:
        return self.model.identity(), self.model.name

    def preflight(self, cases: list[Case]) -> list[str]:
        return self.model.preflight(cases)

    def run(self, cases: tuple[Case, ...]) -> list[StagedClip]:
        """Each case's clip in its own staging folder (or why it failed), in order. The model
        writes the batch into the first case's; each other clip then moves to its own."""
        start, stagings, batch_dir = time.time(), {}, None
        try:
            stagings = {case.id: self.folder.new_staging(case.id) for case in cases}
            batch_dir = stagings[cases[0].id]
            results = self.model.generate_batch(list(cases), self.seed, batch_dir)
        except Exception as exc:  # the batch could not start: each of its cases fails with this
            results = [exc] * len(cases)
        seconds = (time.time() - start) / len(cases)  # a batch's time is shared by its cases
        staged = [self._stage(case, result, stagings.get(case.id), batch_dir, seconds)
                  for case, result in zip(cases, results)]
        for case, clip in zip(cases, staged):  # only now: a failed first case's folder holds the batch's
            if clip.error is not None and case.id in stagings:
                shutil.rmtree(stagings[case.id], ignore_errors=True)
        return staged

    def _stage(self, case: Case, result: GeneratedClip | Exception, staging: Path | None, batch_dir: Path | None,
               seconds: float) -> StagedClip:
        try:
            if isinstance(result, Exception):
                raise result
            video, audio = (_move_into(path, batch_dir, staging) for path in (result.video, result.audio))
            return StagedClip(staging, video, audio, file_sha256(video, audio), seconds)
        except Exception as exc:  # one case's failure must not stop the run
            return StagedClip(None, seconds=seconds, error=_generation_error(exc, case, self.folder))


def _move_into(path: Path | None, batch_dir: Path, staging: Path) -> Path | None:
    """A file the model wrote into the batch folder moves into its case's staging folder; files
    a model returned from elsewhere (a `dir:` folder) stay where they are."""
    if path is None or Path(path).resolve().parent != batch_dir.resolve():
        return path
    target = staging / Path(path).name
    os.replace(path, target)
    return target


def _generation_error(exc: Exception, case: Case, folder: RunFolder) -> str:
    if isinstance(exc, OSError) and exc.errno in FATAL_ERRNOS:  # every later case would fail the same way
        raise RunFolderError(f"case {case.id}: {describe_os_error(exc, folder.clips_dir)}") from None
    return f"{type(exc).__name__}: {exc}"


def _publish(folder: RunFolder, staged: "StagedClip | WorkerLost", case: Case, model: str, seed: int,
             run_id: str) -> ClipRow:
    """Move a staged clip into clips/ (in the driver) and describe it as a store row."""
    if isinstance(staged, WorkerLost):
        folder.clear_staging(case.id)
        staged = StagedClip(None, error=staged.reason)
    error = staged.error
    try:
        if error is None:
            video = folder.publish(staged.video, staged.staging)
            audio = folder.publish(staged.audio, staged.staging)
            return ClipRow(run_id, model, case.id, case.subset, folder.relative(video), folder.relative(audio),
                           "ok", None, staged.seconds, seed, sha256=staged.sha256)
    except OSError as exc:
        error = _generation_error(exc, case, folder)
    finally:
        if staged.staging is not None:
            shutil.rmtree(staged.staging, ignore_errors=True)
    return ClipRow(run_id, model, case.id, case.subset, None, None, "error", error, staged.seconds, seed)


# -- evaluation --------------------------------------------------------------------------
@dataclass
class _Slot:
    """A metric prepared for a run: its instance, why it cannot run, and its weights stamp."""

    metric: object
    reason: str | None  # None: can run
    reason_status: str = "unavailable"
    weights: str = ""
    setup_error: str | None = None

    def stamp(self, clip_sha: str | None) -> set[tuple[str, str, str, str | None]]:
        m = self.metric
        return {(o.name, m.version, self.weights, clip_sha) for o in m.outputs}


def prepare_metrics(keys: list[str] | None, device: str) -> list[_Slot]:
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

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
    check_config(cfg)
    summary = summary or Summary()
    folder = RunFolder(cfg.out)
    folder.require()
    slots = prepare_metrics(cfg.metrics, "cpu")  # availability and weights; each worker binds its device
    versions = library_versions()
    with folder.open(None) as store, folder.folder_lock():
        identity = folder.stored_identity(store)
        cases_dir = cases_dir_for(cfg, store)
        if case_set_hash(cases_dir) != identity.case_set_sha256:
            raise RunFolderError(f"{folder.root} was made on another case set than {cases_dir} "
                                 f"(sha256 {identity.case_set_sha256[:12]}); pass the run's --cases")
        cases = select_cases(cfg, cases_dir)
        summary.cases = summary.cases or len(cases)
        stamp = _RowStamp(identity.run_id, store.meta("model_name") or "model", identity.seed, identity.run_id,
                          versions)

        def plan(case: Case) -> tuple | None:
            clip_row = store.clip(case.id)
            clip_sha = clip_row.sha256 if clip_row is not None else None
            todo = [i for i, s in enumerate(slots) if case.subset in s.metric.subsets
                    and not s.stamp(clip_sha) <= store.done_stamps(s.metric.key).get(case.id, set())]
            summary.rows["skipped"] += sum(case.subset in s.metric.subsets for s in slots) - len(todo)
            return (case, todo, clip_row) if todo else None

        def finish(case: Case, job: tuple, rows: "list[ResultRow] | WorkerLost") -> None:
            todo = [slots[i] for i in job[1]]
            if isinstance(rows, WorkerLost):
                clip_sha = job[2].sha256 if job[2] is not None else None
                rows = [r for slot in todo for r in _rows(slot, case, stamp, {}, "error", rows.reason, {},
                                                          time.time(), clip_sha)]
            store.write_case(rows)
            _count(summary, todo, rows)

        with open_pool(cfg, EvaluationWorker, slots, cfg.device, folder.root, stamp, metric_threads(cfg)) as pool:
            _each_case(folder, cases, "evaluate", cfg.quiet, plan, pool, finish)
    return summary


def metric_threads(cfg: RunConfig) -> int:
    """How many metrics of a clip are scored at once. The metric libraries (OpenCV, numpy, torch,
    CTranslate2, mediapipe) release the GIL, so on the CPU one thread per core keeps every core
    busy; on a GPU, and in a Ray worker of one CPU, one at a time."""
    if cfg.metric_threads is not None:
        return cfg.metric_threads
    if cfg.executor != "local" or resolve_device(cfg.device) != "cpu":
        return 1
    return os.cpu_count() or 1


class EvaluationWorker:
    """Holds the metric models of a run (each loaded on first use) and scores one case per
    call: the clip is decoded once for all its metrics, and the next case's clip is decoded on
    a thread meanwhile when the pool says which it is (`prefetch`). Runs in the driver's process
    or as a Ray actor; the driver writes the rows."""

    def __init__(self, slots: list["_Slot"], device: str, root: Path, stamp: "_RowStamp", threads: int = 1):
        device = resolve_device(device)
        self.slots = [_Slot(type(s.metric)(device=device), s.reason, s.reason_status, s.weights) for s in slots]
        self.folder, self.stamp = RunFolder(root), stamp
        self._decoding: dict[str, Future] = {}  # case id -> its clip being opened
        self._forgotten: set[str] = set()  # cases given to another worker after their prefetch was sent
        self._scoring = ThreadPoolExecutor(threads, thread_name_prefix="harmony-bench-metric") if threads > 1 else None
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harmony-bench-decode")

    def close(self) -> None:
        """End the worker's threads. A thread that decoded keeps decoder state (PyAV's frame
        reformatter and its slice threads) until it exits; if it outlived the run, a later fork that
        runs Python in the child (Ray's preexec_fn) would free that state there and hang."""
        for pool in (self._decoder, self._scoring):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def prefetch(self, job: tuple) -> None:
        case, todo, clip_row = job
        if (clip_row is not None and clip_row.status == "ok" and case.id not in self._forgotten
                and self._can_score(todo)):
            self._decoding[case.id] = self._decoder.submit(self._open_clip, clip_row)

    def forget(self, job: tuple) -> None:
        """Drop a prefetched clip: its case went to another worker. On a Ray actor this may run
        before the prefetch it cancels (two threads), hence the set."""
        self._forgotten.add(job[0].id)
        self._decoding.pop(job[0].id, None)

    def run(self, job: tuple) -> list[ResultRow]:
        case, todo, clip_row = job
        opening = self._decoding.pop(case.id, None)
        if opening is not None:
            clip = opening.result()
        elif self._can_score(todo):
            clip = self._open_clip(clip_row)
        else:  # every metric of the case records why it cannot run; the clip is not needed
            clip = None
        return _evaluate_case(case, [self.slots[i] for i in todo], clip_row, clip, self.stamp, self._scoring)

    def _can_score(self, todo: list[int]) -> bool:
        return any(self.slots[i].reason is None for i in todo)

    def _open_clip(self, clip_row: ClipRow | None) -> "Clip | str":
        """The case's clip, or why it has none (stored as the error of each of its metrics)."""
        if clip_row is None:
            return "no clip generated for this case"
        if clip_row.status != "ok":
            return f"generation failed: {clip_row.error}"
        try:
            return read_clip(self.folder.absolute(clip_row.video_path), self.folder.absolute(clip_row.audio_path))
        except ClipError as exc:
            return f"clip unreadable: {exc}"


# Each metric streams a large clip through its own decoder, holding a few frames and their working
# copies: about 150 MB a metric at 3840x2160. Metrics of a clip scored at once are capped so that
# frames of at most this many pixels are in flight: two at 3840x2160, eight at 1920x1080, and so
# the run stays under 1 GB at 4K on any number of cores (benchmarks/results/memory.txt).
CONCURRENT_PIXELS = 2 * 3840 * 2160


def metrics_at_once(clip: "Clip | str | None") -> int | None:
    """How many metrics may score `clip` at once; None: as many as there are threads."""
    if not isinstance(clip, Clip) or not clip.has_video:
        return None
    return max(1, CONCURRENT_PIXELS // (clip.height * clip.width))


# Metric models load one at a time even when their metrics score on several threads: loaders
# that build on torch's meta device (transformers, audiobox) switch it for the whole process.
_LOADING = threading.Lock()


def _count(summary: Summary, todo: list[_Slot], rows: list[ResultRow]) -> None:
    firsts = {s.metric.key: s.metric.outputs[0].name for s in todo}
    for r in rows:
        if r.output != firsts[r.metric_key]:
            continue  # count (case, metric) pairs, not outputs
        summary.rows[r.status] += 1
        if r.status == "error":
            summary.problems.append(f"{r.case_id} {r.metric_key}: {r.error}")


@dataclass
class _RowStamp:
    run_id: str
    model: str
    seed: int
    config_hash: str
    versions: dict


def _evaluate_case(case: Case, slots: list[_Slot], clip_row: ClipRow | None, clip: "Clip | str | None",
                   st: _RowStamp, scoring: ThreadPoolExecutor | None = None) -> list[ResultRow]:
    """The rows of each slot, in slot order; the slots are scored on `scoring`'s threads when given.
    `clip` is the decoded clip, why there is none, or None when no slot needs it (each has a reason)."""
    cap = metrics_at_once(clip)
    gate = threading.BoundedSemaphore(cap) if cap is not None and scoring is not None else contextlib.nullcontext()

    def rows(slot: _Slot) -> list[ResultRow]:
        start = time.time()
        if slot.reason:
            result = ({}, slot.reason_status, slot.reason, {})
        elif isinstance(clip, str):
            result = ({}, "error", clip, {})
        else:
            with gate:
                result = _score(slot, clip, case)
                release_freed_memory()  # what this metric freed, before the next one allocates
        return _rows(slot, case, st, *result, start, clip_row.sha256 if clip_row else None)

    per_slot = scoring.map(rows, slots) if scoring is not None else map(rows, slots)
    return [row for slot_rows in per_slot for row in slot_rows]


def _score(slot: _Slot, clip: Clip, case: Case) -> tuple[dict, str, str | None, dict]:
    from harmony_bench.metrics.base import MetricUnavailable, NotScorable

    metric = slot.metric
    if slot.setup_error:
        return {}, "error", slot.setup_error, {}
    try:
        with _LOADING:
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
          details: dict, start: float, clip_sha: str | None) -> list[ResultRow]:
    m = slot.metric
    return [ResultRow(
        run_id=st.run_id, model=st.model, case_id=case.id, subset=case.subset, metric_key=m.key,
        output=o.name, family=m.family, paper=o.paper, direction=o.direction, backend=m.backend,
        official=m.official, protocol_version=m.version, weights_sha256=slot.weights,
        value=float(values[o.name]) if status == "ok" else None, status=status, error=error,
        details=details if i == 0 else {}, lib_versions=st.versions, seed=st.seed,
        config_hash=st.config_hash, started_at=start, finished_at=time.time(), clip_sha256=clip_sha)
        for i, o in enumerate(m.outputs)]


# -- the whole job -----------------------------------------------------------------------
def run(cfg: RunConfig) -> Summary:
    """generate -> evaluate -> report."""
    check_config(cfg)
    summary = generate(cfg)
    evaluate(cfg, summary)
    report(cfg.out, summary=summary)
    return summary


def report(run_dir: Path, out_dir: Path | None = None, summary: Summary | None = None) -> list[Path]:
    """Write the report of a run (default: <run>/report). The run is only read, so a read-only
    run reports to another `out_dir`. The files are written to a temporary folder first and
    swapped in whole: a fault leaves the previous report, never a partial one."""
    from harmony_bench.reports import write_run_report

    folder = RunFolder(run_dir)
    folder.require()
    if summary is not None:
        atomic_write(folder.root / "summary.json", json.dumps(summary.to_json(), indent=2))
    out_dir = Path(out_dir) if out_dir is not None else folder.root / "report"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    except OSError as exc:
        raise RunFolderError(describe_os_error(exc, out_dir.parent)) from None
    try:
        written = write_run_report(folder.root, tmp)
        old = out_dir.with_name(f".{out_dir.name}-old-{os.getpid()}")
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise RunFolderError(describe_os_error(exc, out_dir)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out_dir / p.relative_to(tmp) for p in written]
