"""`harmony-bench doctor`: one screen on what this machine can produce, and how to fix the rest.

The software (Python, torch, CUDA and each GPU's memory, numpy, transformers, the pip extras), each
official weight file (present, verified), and for each of the paper's columns whether it can be
produced here, with the exact command that fixes what is missing. Exit 0 only when every paper
column can be produced.
"""

from __future__ import annotations

import platform
import re
from importlib import metadata

from harmony_bench.coverage import fill_groups, group_text, paper_coverage
from harmony_bench.weights import WeightsMismatch, WeightsMissing, resolve, weights_dir


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def software_lines() -> list[str]:
    lines = [f"Python       {platform.python_version()} ({platform.machine()}, {platform.system()})"]
    torch_version = _version("torch")
    lines.append(f"torch        {torch_version or 'not installed'}")
    if torch_version:
        lines += _cuda_lines()
    for dist in ("numpy", "transformers"):
        lines.append(f"{dist:12} {_version(dist) or 'not installed'}")
    lines.append("extras       " + "; ".join(extras_state()))
    return lines


def _cuda_lines() -> list[str]:
    import torch

    if not torch.cuda.is_available():
        return ["CUDA         no CUDA device: metrics run on the CPU (slow at the paper's scale)"]
    lines = [f"CUDA         {torch.version.cuda}, {torch.cuda.device_count()} device(s)"]
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        lines.append(f"  cuda:{i}     {props.name}, {props.total_memory / 2**30:.1f} GiB")
    return lines


def extras_state() -> list[str]:
    """'name: installed' or 'name: missing pkg, pkg' for each pip extra of harmony-bench."""
    try:
        requires = metadata.distribution("harmony-bench").requires or []
    except metadata.PackageNotFoundError:
        return ["harmony-bench is not installed as a package"]
    needs: dict[str, list[str]] = {}
    for req in requires:
        marker = re.search(r'extra\s*==\s*"([^"]+)"', req)
        name = re.match(r"[A-Za-z0-9._-]+", req).group(0)
        if marker and name != "harmony-bench":
            needs.setdefault(marker.group(1), []).append(name)
    out = []
    for extra, dists in needs.items():
        absent = [d for d in dists if _version(d) is None]
        out.append(f"{extra}: " + (f"missing {', '.join(absent)}" if absent else "installed"))
    return out


def file_lines() -> list[str]:
    from harmony_bench.fetch import metric_files

    lines = [f"weights folder: {weights_dir()}"]
    for wf, keys in metric_files().values():
        try:
            resolve(wf)
            state = "ok     "
        except WeightsMissing:
            state = "MISSING"
        except WeightsMismatch:
            state = "BAD    "  # `harmony-bench weights --verify` prints why
        lines.append(f"  {state} {wf.name}  [{', '.join(keys)}]")
    return lines


def column_lines(coverage) -> list[str]:
    """The columns this machine can produce, then one entry per missing group with its fix."""
    ready = [c.column for c in coverage if c.ready]
    lines = [f"  ok      {', '.join(ready)}"] if ready else []
    for group in fill_groups(coverage):
        lines.append(f"  MISSING {group_text(group)}: {'; '.join(group[0].gaps.missing)}")
        if group[0].fix:
            lines.append(f"          fix: {group[0].fix}")
    return lines


def doctor() -> tuple[list[str], int]:
    """(lines to print, exit status)."""
    coverage = paper_coverage()
    lines = ["Software:", *("  " + line for line in software_lines()), "", "Official weight files:", *file_lines(),
             "", "Paper columns (Tables 2-7):", *column_lines(coverage), ""]
    missing = sum(not c.ready for c in coverage)
    if missing:
        lines.append(f"{missing} of {len(coverage)} paper columns cannot be produced here; every official file at "
                     "once: harmony-bench weights fetch --accept-licence (see --dry-run first)")
    else:
        lines.append(f"All {len(coverage)} paper columns can be produced here: harmony-bench run --model MODEL "
                     "--device cuda")
    return lines, 1 if missing else 0
