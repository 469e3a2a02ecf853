"""Where the per-case work of a run happens: in this process (`local`) or on Ray actors (`ray`).

Both executors run the same worker classes (`runner.GenerationWorker`, `runner.EvaluationWorker`)
on the same jobs; only the place differs. The process that called `generate` / `evaluate` (the
driver) alone plans each case, holds its lock, publishes its clip and writes its rows, so resume,
run identity and exactly-once rows behave as in one process.

Ray: each worker is an actor that loads the model (or the metric models) once and takes one case
at a time from the driver; an evaluation worker is also shown its next case, so that it decodes
that clip while it scores the current one. A worker that dies (killed, out of memory, node lost) is replaced and
its case is sent again, up to MAX_ATTEMPTS times; its half-written clip stays in a staging folder
that the next attempt removes, and the case is stored once, when a result comes back. A case
that kills its worker on every attempt is stored as an error, like any failed case, and the run
goes on. Ray is an optional dependency, imported only here and only for `--executor ray`.
"""

from __future__ import annotations

import importlib.util
import logging
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass

EXECUTORS = ("local", "ray")
MAX_ATTEMPTS = 3  # per case: a worker lost on the third attempt stores the case as an error
RAY_MISSING = "--executor ray needs Ray: pip install 'harmony-bench[ray]'"
RAY_TOKEN_LOGGER = "ray._private.authentication.authentication_token_setup"


WAIT = "wait for a result"  # in a pool's jobs: start nothing new before a running job returns


@dataclass(frozen=True)
class WorkerLost:
    """What a case gets when its worker died on every attempt; the driver stores it as an error."""

    reason: str


def check_executor(cfg) -> None:
    """The executor options of a RunConfig, checked before any work (ValueError naming the option)."""
    if cfg.executor not in EXECUTORS:
        raise ValueError(f"--executor {cfg.executor!r}: expected one of {', '.join(EXECUTORS)}")
    if cfg.executor == "local":
        given = [flag for flag, value in (("--ray-address", cfg.ray_address), ("--workers", cfg.workers),
                                          ("--gpus-per-worker", cfg.gpus_per_worker)) if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to --executor ray")
        return
    if importlib.util.find_spec("ray") is None:
        raise RuntimeError(RAY_MISSING)
    if cfg.workers is not None and cfg.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {cfg.workers}")
    if cfg.gpus_per_worker is not None and cfg.gpus_per_worker < 0:
        raise ValueError(f"--gpus-per-worker must be 0 or more, got {cfg.gpus_per_worker}")
    if cfg.device.startswith("cuda:"):
        raise ValueError(f"--device {cfg.device}: with --executor ray, Ray gives each worker its GPUs; "
                         "use --device cuda (or auto) and --gpus-per-worker")


def batched(jobs, size: int):
    """(case, job) items grouped into (cases, jobs) batches of up to `size`, in order. A WAIT
    first sends the partial batch on (its cases are planned and locked), then passes."""
    cases: list = []
    group: list = []
    for item in jobs:
        if item is not WAIT:
            cases.append(item[0])
            group.append(item[1])
        if group and (item is WAIT or len(group) == size):
            yield tuple(cases), tuple(group)
            cases, group = [], []
        if item is WAIT:
            yield WAIT
    if group:
        yield tuple(cases), tuple(group)


def unbatched(results):
    """(cases, results) of batches back to (case, result) pairs; a lost worker loses its batch."""
    for cases, outs in results:
        yield from zip(cases, [outs] * len(cases) if isinstance(outs, WorkerLost) else outs)


@contextmanager
def open_pool(cfg, worker_cls, *args, threads: int = 1):
    """Workers of `worker_cls(*args)` for one phase of a run; closed (GPU memory freed) on exit.
    `threads`: jobs the local worker runs at once (Ray runs one job per worker)."""
    pool = LocalPool(worker_cls(*args), threads) if cfg.executor == "local" else RayPool(cfg, worker_cls, args)
    try:
        yield pool
    finally:
        pool.close()


class LocalPool:
    """One worker in this process. With one thread, jobs run one after the other, in order, and
    a worker with a `prefetch(job)` method is shown the next job before it runs the current one
    (the evaluation worker decodes the next clip meanwhile). With several, up to `threads` jobs
    run at once on the same worker (its `run` must be thread-safe) and results come back as
    they finish."""

    def __init__(self, worker, threads: int = 1):
        self.worker, self.threads = worker, threads

    def call(self, method: str, *args):
        return getattr(self.worker, method)(*args)

    def map(self, jobs):
        if self.threads > 1:
            yield from self._map_threads(jobs)
            return
        prefetch = getattr(self.worker, "prefetch", None)
        item = next(jobs, None)
        while item is not None:
            if item is WAIT:  # nothing runs between two jobs here: asking again is all it takes
                item = next(jobs, None)
                continue
            # the next job is planned before this one runs; it is WAIT if it must wait for this one
            following = next(jobs, None)
            if prefetch is not None and isinstance(following, tuple):
                prefetch(following[1])
            case, job = item
            yield case, self.worker.run(job)
            item = following

    def _map_threads(self, jobs):
        running: dict = {}  # Future -> case
        with ThreadPoolExecutor(self.threads, thread_name_prefix="harmony-bench-job") as threads:
            more = True
            while more or running:
                while more and len(running) < self.threads:
                    item = next(jobs, None)
                    if item is None:
                        more = False
                    elif item is WAIT:
                        if running:
                            break  # ask again once a result is back
                    else:
                        running[threads.submit(self.worker.run, item[1])] = item[0]
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield running.pop(future), future.result()

    def close(self) -> None:
        close = getattr(self.worker, "close", None)
        if close is not None:
            close()


class RayPool:
    """Up to `workers` actors, each holding one job at a time; created when first needed."""

    def __init__(self, cfg, worker_cls, args: tuple):
        self.ray = _ray()
        if not self.ray.is_initialized():
            _init_ray(self.ray, cfg)
        self.size, gpus = _worker_shape(self.ray.cluster_resources(), cfg)
        # max_restarts=0: the pool replaces a dead actor itself, so it knows which case was lost.
        # A worker that prefetches gets a second thread for it, beside the case it runs.
        self.prefetches = hasattr(worker_cls, "prefetch")
        self.actor_cls = self.ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=0,
                                         max_concurrency=2 if self.prefetches else 1)(worker_cls)
        self.args = args
        self.actors: list = []

    def _new_actor(self):
        actor = self.actor_cls.remote(*self.args)
        self.actors.append(actor)
        return actor

    def call(self, method: str, *args):
        actor = self.actors[0] if self.actors else self._new_actor()
        return self._get(getattr(actor, method).remote(*args))

    def map(self, jobs):
        """Yield (case, result) as results come back; a lost worker's case is sent again. A worker
        that prefetches is given its next case while it runs one (its clip decodes meanwhile);
        a next case that an idle worker could start is taken back and run there."""
        ray, jobs = self.ray, iter(jobs)
        lost_errors = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                       ray.exceptions.ObjectLostError, ray.exceptions.NodeDiedError)
        free = list(self.actors)
        in_flight: dict = {}  # ObjectRef -> (actor, case, job, attempt)
        ahead: dict = {}  # actor -> (case, job, attempt): its next case, already prefetched there
        again: list = []  # (case, job, attempt) to send before any new case

        def take():
            if again:
                return again.pop(0)
            nxt = next(jobs, None)  # plans the case in the driver, under its lock
            # WAIT comes only while jobs of ours are in flight: start nothing new now
            return None if nxt is None or nxt is WAIT else (*nxt, 1)

        def start(actor, case, job, attempt: int) -> None:
            in_flight[actor.run.remote(job)] = (actor, case, job, attempt)
            if self.prefetches and actor not in ahead and (nxt := take()) is not None:
                ahead[actor] = nxt
                actor.prefetch.remote(nxt[1])

        def fill() -> None:
            while len(in_flight) < self.size:
                item = take()
                if item is None and ahead:  # nothing new: an idle worker takes a waiting next case
                    owner = next(iter(ahead))
                    item = ahead.pop(owner)
                    owner.forget.remote(item[1])
                if item is None:
                    return
                start(free.pop() if free else self._new_actor(), *item)

        fill()
        while in_flight:
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            actor, case, job, attempt = in_flight.pop(ref)
            try:
                result = self._get(ref)
                queued = ahead.pop(actor, None)
                if queued is not None:
                    start(actor, *queued)
                else:
                    free.append(actor)
            except lost_errors as exc:
                self._drop(actor)
                queued = ahead.pop(actor, None)
                if queued is not None:
                    again.append(queued)  # it never ran: the same attempt
                if attempt < MAX_ATTEMPTS:
                    again.insert(0, (case, job, attempt + 1))
                    fill()
                    continue
                result = WorkerLost(f"its worker died on each of {MAX_ATTEMPTS} attempts "
                                    f"(last: {type(exc).__name__}: {_first_line(exc)})")
            yield case, result
            fill()

    def _get(self, ref):
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:  # raised by our code in the worker: the cause
            raise (exc.cause if exc.cause is not None else exc) from None
        except self.ray.exceptions.RayActorError as exc:
            if exc.actor_init_failed:  # e.g. the model cannot load: every case would fail the same way
                raise RuntimeError(f"a Ray worker could not start: {_last_line(exc)}") from None
            raise

    def _drop(self, actor) -> None:
        self.actors.remove(actor)
        self.ray.kill(actor, no_restart=True)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.actors = []


def _ray():
    try:
        import ray
    except ImportError:
        raise RuntimeError(RAY_MISSING) from None
    return ray


def _init_ray(ray, cfg) -> None:
    """Join --ray-address, else start a private local Ray (never silently join another one)."""
    quiet = {"logging_level": logging.WARNING, "log_to_driver": not cfg.quiet}
    # Ray 2.5x warns on every start that token authentication is on (its safe default, kept on):
    # a line a user cannot act on, so it is not shown.
    logging.getLogger(RAY_TOKEN_LOGGER).setLevel(logging.ERROR)
    try:
        if cfg.ray_address:
            ray.init(address=cfg.ray_address, **quiet)
        else:
            ray.init(address="local", include_dashboard=False, **quiet)
    except ConnectionError as exc:
        raise RuntimeError(f"--ray-address {cfg.ray_address}: cannot join the Ray cluster ({exc})") from None


def _worker_shape(resources: dict, cfg) -> tuple[int, float]:
    """How many workers, and how many GPUs each; refuses a pool the cluster cannot hold (its
    actors would wait for resources forever)."""
    cpus, gpus_total = int(resources.get("CPU", 0)), resources.get("GPU", 0.0)
    gpus = cfg.gpus_per_worker
    if gpus is None:
        gpus = 1.0 if gpus_total >= 1 and cfg.device != "cpu" else 0.0
    if cfg.device.startswith("cuda") and gpus == 0:
        raise ValueError("--device cuda with --executor ray: give each worker GPUs (--gpus-per-worker); "
                         f"this Ray cluster has {gpus_total:g} GPU(s)")
    fits = min(cpus, int(gpus_total / gpus + 1e-9)) if gpus else cpus
    shape = f"{cpus} CPUs, {gpus_total:g} GPUs; each worker takes 1 CPU and {gpus:g} GPU"
    if fits < 1:
        raise ValueError(f"this Ray cluster cannot hold one worker ({shape})")
    workers = cfg.workers or fits
    if workers > fits:
        raise ValueError(f"--workers {workers}: this Ray cluster has room for {fits} worker(s) ({shape})")
    return workers, gpus


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _last_line(exc: BaseException) -> str:  # of a worker's traceback: "SomeError: what went wrong"
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__
