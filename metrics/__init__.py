"""Metric adapters. `harmony_bench.metrics.base` holds the interface; each metric module registers itself.

Built-in metric modules are listed in `harmony_bench.metrics.registry` as lazy targets so that listing metrics
never imports torch-heavy backends.
"""
