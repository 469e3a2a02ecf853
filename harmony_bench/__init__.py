"""Harmony-Bench: evaluation suite for joint audio-video generation."""

__version__ = "0.1.0"
__all__ = ["evaluate", "generate", "load_results", "report", "run", "tables"]


def __dir__():  # so `dir(harmony_bench)` and tab completion show the lazy API
    return sorted([*globals(), *__all__])


def __getattr__(name):  # keep `import harmony_bench` cheap: the API pulls torch only when used
    if name == "load_results":
        from harmony_bench.store import load_results

        return load_results
    if name in ("run", "generate", "evaluate", "report"):
        from harmony_bench import api

        return getattr(api, name)
    if name == "tables":
        from harmony_bench.reports import paper_tables

        return paper_tables
    raise AttributeError(name)
