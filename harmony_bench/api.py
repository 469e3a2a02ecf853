"""The Python API, mirroring the CLI, for notebooks:

    import harmony_bench as hb
    summary = hb.run("static", out="runs/static", limit=2)
    summary = hb.run("noise", out="runs/noise", executor="ray", workers=2)  # on Ray workers
    df = hb.load_results("runs/static")
"""

from __future__ import annotations

from pathlib import Path

from harmony_bench import runner
from harmony_bench.runner import RunConfig, Summary


def _config(model: str | None, out: str | Path, cases: str | Path | None = None, subset: str | None = None,
            limit: int | None = None, metrics: list[str] | None = None, shard: tuple[int, int] = (1, 1),
            seed: int = 0, device: str = "auto", quiet: bool = True, overwrite: bool = False,
            executor: str = "local", ray_address: str | None = None, workers: int | None = None,
            gpus_per_worker: float | None = None, batch_size: int | None = None,
            generation_threads: int | None = None) -> RunConfig:
    return RunConfig(model=model, out=Path(out), cases_dir=Path(cases) if cases is not None else None,
                     subset=subset, limit=limit, metrics=metrics, shard=shard, seed=seed, device=device,
                     quiet=quiet, overwrite=overwrite, executor=executor, ray_address=ray_address,
                     workers=workers, gpus_per_worker=gpus_per_worker, batch_size=batch_size,
                     generation_threads=generation_threads)


def run(model: str, out: str | Path, **kwargs) -> Summary:
    """Generate, evaluate and report (see RunConfig for the keyword arguments)."""
    return runner.run(_config(model, out, **kwargs))


def generate(model: str, out: str | Path, **kwargs) -> Summary:
    return runner.generate(_config(model, out, **kwargs))


def evaluate(out: str | Path, model: str | None = None, **kwargs) -> Summary:
    """Evaluate the clips of a run; with `model`, generate (or register `dir:` clips) first."""
    cfg = _config(model, out, **kwargs)
    summary = runner.generate(cfg) if model else None
    return runner.evaluate(cfg, summary)


def report(out: str | Path, report_dir: str | Path | None = None) -> list[Path]:
    return runner.report(Path(out), Path(report_dir) if report_dir is not None else None)
