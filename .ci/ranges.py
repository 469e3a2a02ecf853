#!/usr/bin/env python3
"""Print pyproject's version range of each package named, e.g. `numpy>=1.26,<3`, for `pip install
--upgrade`: the newest release the project admits, never one outside its ranges."""

import re
import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
for name in sys.argv[1:]:
    specs = {re.sub(r"\s+", "", r.split(";")[0]) for r in requirements
             if re.match(rf"{re.escape(name)}\s*(?:[<>=!~;]|$)", r, re.I)}
    if len(specs) != 1:
        sys.exit(f"{name}: {len(specs)} different requirements in pyproject.toml ({sorted(specs)}); expected one")
    print(specs.pop())
