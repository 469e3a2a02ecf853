"""The 150 Harmony-Bench cases as package data (cases.jsonl, schema.json, assets/), mapped into the
package as `harmony_bench.case_set` (pyproject's package-dir), so a checkout, an editable install and
a wheel all find them at `ROOT`."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
