"""The metric registry. Built-in metric packages register their classes with `@register`;
third-party packages may add metrics through the entry-point group `harmony_bench.metrics`."""

from __future__ import annotations

import importlib
import importlib.util

from harmony_bench.registry import Registry

METRICS: Registry = Registry("metric", entry_point_group="harmony_bench.metrics")


def register(key: str):
    """Class decorator: register a Metric under `key` ("<family>@<backend>") and set `cls.key`."""

    def deco(cls):
        declared = cls.__dict__.get("key")
        if declared is not None and declared != key:
            raise ValueError(f"{cls.__name__} declares key {declared!r} but is registered as {key!r}")
        cls.key = key
        return METRICS.register(key)(cls)

    return deco

# Each package imports its metric modules in its __init__; heavy packages are imported lazily
# inside the metrics, so importing these is cheap.
BUILTIN_PACKAGES = ("harmony_bench.metrics.video", "harmony_bench.metrics.audio", "harmony_bench.metrics.sync")


def load_builtin() -> None:
    for pkg in BUILTIN_PACKAGES:
        if importlib.util.find_spec(pkg) is not None:
            importlib.import_module(pkg)


def get_metric(key: str):
    load_builtin()
    return METRICS.get(key)


def all_metric_keys() -> list[str]:
    load_builtin()
    return METRICS.names()
