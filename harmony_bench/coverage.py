"""Which of the paper's columns this machine can produce, and the command that fills each gap.

A paper column (Tables 2-7) can be produced here when at least one official metric giving it has
its packages installed and every weight file present and verified. For a column that cannot, the
fix is that of its first official metric: the pip extra to install, then the `weights fetch`
command. Used by `harmony-bench doctor`, the run's closing table and the report.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from harmony_bench.weights import WeightsMismatch, WeightsMissing, resolve


@dataclass(frozen=True)
class Gaps:
    """What stops one metric here, and the commands that fix it (both empty: it can run)."""

    missing: tuple[str, ...]
    fixes: tuple[str, ...]


@dataclass(frozen=True)
class ColumnCoverage:
    column: str  # the paper's column header, e.g. "IB-A"
    tables: tuple[int, ...]  # the paper's tables that have this column
    metrics: tuple[str, ...]  # official metric keys giving it
    gaps: Gaps  # of the first official metric, when none of them can run here

    @property
    def ready(self) -> bool:
        return not self.gaps.missing

    @property
    def fix(self) -> str:
        return " && ".join(self.gaps.fixes)


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def metric_gaps(cls) -> Gaps:
    """Packages and weight files one metric class lacks here. Files present are verified as a run
    verifies them (hashes memoised per file, on disk for large ones)."""
    from harmony_bench.fetch import restricted

    missing, fixes = [], []
    packages = [p for p in cls.packages if not installed(p)]
    if packages:
        missing.append(f"package missing: {', '.join(packages)}")
        fixes.append(f"pip install 'harmony-bench[{cls.extra}]'" if cls.extra else f"pip install {' '.join(packages)}")
    absent, failing = [], []
    for wf in cls.weights:
        try:
            resolve(wf)
        except WeightsMissing:
            absent.append(wf.name)
        except WeightsMismatch:
            failing.append(wf.name)
    missing += [f"{why}: {', '.join(names)}" for why, names in
                (("weights missing", absent), ("weights fail verification", failing)) if names]
    if absent or failing:
        consent = " --accept-licence" if any(restricted(wf.licence) for wf in cls.weights) else ""
        # a gated Hub repository serves its files only with the token of an account that accepted its terms
        token = "HF_TOKEN=hf_... " if any(wf.hub and "gated" in wf.licence for wf in cls.weights) else ""
        fixes.append(f"{token}harmony-bench weights fetch {cls.key}{consent}")
    return Gaps(tuple(missing), tuple(fixes))


def paper_coverage() -> list[ColumnCoverage]:
    """One entry per paper column, in the paper's order."""
    from harmony_bench.metrics.registry import all_metric_keys, get_metric
    from harmony_bench.reports.paper import PAPER_COLUMNS

    official = [get_metric(k) for k in all_metric_keys() if get_metric(k).official]
    gaps_of: dict[str, Gaps] = {}
    out = []
    for col in PAPER_COLUMNS:
        givers = [cls for cls in official if any(o.paper and o.name == col.name for o in cls.outputs)]
        for cls in givers:
            if cls.key not in gaps_of:
                gaps_of[cls.key] = metric_gaps(cls)
        ready = [cls for cls in givers if not gaps_of[cls.key].missing]
        gaps = Gaps((), ()) if ready else (gaps_of[givers[0].key] if givers else
                                            Gaps(("no official metric gives it",), ()))
        out.append(ColumnCoverage(col.name, tables_of(col.name), tuple(cls.key for cls in givers), gaps))
    return out


def tables_of(column: str) -> tuple[int, ...]:
    """The numbers of the paper's tables that have `column`."""
    from harmony_bench.reports.paper import PAPER_TABLES

    return tuple(sorted(t.number for t in PAPER_TABLES.values() if column in {c.name for c in t.columns}))


def tables_text(numbers: tuple[int, ...]) -> str:
    """(2, 3, 4, 5, 6, 7) -> "Tables 2-7"; (2, 4, 5, 6) -> "Tables 2, 4-6"."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = [f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs]
    return ("Table " if len(numbers) == 1 else "Tables ") + ", ".join(parts)


def fill_groups(coverage: list[ColumnCoverage], columns: set[str] | None = None) -> list[list[ColumnCoverage]]:
    """The columns that cannot be produced here, grouped by their fix (PQ, PC, CE and CU share
    one), limited to `columns` when given."""
    groups: dict[str, list[ColumnCoverage]] = {}
    for c in coverage:
        if not c.ready and (columns is None or c.column in columns):
            groups.setdefault(c.fix, []).append(c)
    return list(groups.values())


def group_text(group: list[ColumnCoverage]) -> str:
    """"PQ, PC, CE, CU (Tables 2, 4-6)": a group's columns and the tables having any of them."""
    tables = tuple(sorted({t for c in group for t in c.tables}))
    return f"{', '.join(c.column for c in group)} ({tables_text(tables)})"


def fill_commands(columns: set[str]) -> dict[str, str]:
    """{column: the command that makes it producible here} for those of `columns` that are not."""
    return {c.column: c.fix for c in paper_coverage() if c.column in columns and not c.ready and c.fix}
