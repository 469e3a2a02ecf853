"""A non-editable install must carry the cases: every case file is covered by package-data."""

import fnmatch
import tomllib
from pathlib import Path

from harmony_bench.cases import DEFAULT_CASES_DIR, load_cases

REPO = Path(__file__).resolve().parents[2]


def test_package_data_covers_every_case_file():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "cases" in setuptools["packages"]["find"]["include"]
    patterns = setuptools["package-data"]["cases"] + setuptools["package-data"]["*"]
    needed = {"cases.jsonl", "schema.json"} | {
        p for c in load_cases() for p in (c.reference_image, c.reference_audio)}
    assert len(needed) > 2
    missing = [f for f in needed if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missing, missing
