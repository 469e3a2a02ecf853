"""The wheel works on its own: built from a copy of this checkout, installed into a fresh venv
(no editable link, no checkout on the path), its CLI runs from a folder outside the checkout."""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harmony_bench.cases import load_cases
from harmony_bench.media import read_clip
from harmony_bench.models import MODELS, get_model, register_model

REPO = Path(__file__).resolve().parents[2]
# PyPI has unrelated projects called metrics, reports and cases: a wheel must not install over them.
TOP_LEVEL = {"harmony_bench", "harmony_model"}


def test_package_data_covers_every_case_file():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["harmony_bench.case_set"] + setuptools["package-data"]["*"]
    needed = {"cases.jsonl", "schema.json"} | {
        p for c in load_cases() for p in (c.reference_image, c.reference_audio)}
    assert len(needed) > 2
    missing = [f for f in needed if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missing, missing


def test_readme_plugin_example_writes_a_clip_of_the_case(tiny_cases, tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    code = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "class MyModel(Model)" in b)
    assert len(code.splitlines()) <= 25
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    monkeypatch.setattr(MODELS, "_items", dict(MODELS._items))  # the registration ends with the test
    register_model("my_model")(namespace["MyModel"])
    case = load_cases(tiny_cases)[0]
    model = get_model("my_model")

    made = model.generate(case, 0, tmp_path)
    clip = read_clip(made.video, made.audio)
    assert clip.frames.shape == (round(case.duration * 24), 256, 256, 3)
    assert clip.audio.shape[0] == round(case.duration * 16000) and 0.1 < abs(clip.audio).max() <= 0.2
    with Image.open(case.reference_image_path) as im:
        still = np.asarray(im.convert("RGB").resize((256, 256)), dtype=float)
    assert np.abs(clip.frames.astype(float) - still).mean() < 6  # every frame is the reference image
    again = model.generate(case, 0, tmp_path / "again")  # the same seed gives the same clip
    assert (read_clip(again.video, again.audio).audio == clip.audio).all()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the files git would commit (links kept as links), so no build output
    lands in the checkout."""
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    listing = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO)
    for rel in filter(None, listing.split("\0")):
        origin, copy = REPO / rel, src / rel
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            copy.symlink_to(os.readlink(origin))
        elif origin.is_file():  # a file deleted but not yet committed is still listed
            shutil.copy2(origin, copy)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, src])
    return next(dist.glob("harmony_bench-*.whl"))


def test_wheel_installs_only_its_own_top_level_packages(wheel):
    names = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert {n for n in names if not n.endswith(".dist-info")} == TOP_LEVEL


def test_wheel_carries_the_site_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"harmony_bench/reports/site_assets/site.js", "harmony_bench/reports/site_assets/site.css"} <= names


def test_sources_reach_metrics_and_reports_through_harmony_bench():
    """A source checkout would still find top-level metrics/ and reports/; the wheel would not."""
    top_level = re.compile(r"^\s*(from|import)\s+(metrics|reports)\b|[\"'](metrics|reports)\.[a-z_]", re.M)
    sources = _run(["git", "ls-files", "*.py"], cwd=REPO).split()
    offenders = [f for f in sources if top_level.search((REPO / f).read_text(encoding="utf-8"))]
    assert not offenders, offenders


@pytest.mark.slow
def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip())
    # The test environment's packages as plain path entries: their .pth files (an editable link to
    # some checkout among them) do not run, and the venv's own site-packages comes first.
    deps = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]
    (site / "_test_env.pth").write_text("\n".join(deps) + "\n")
    _run([py, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel)])

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = _run([py, "-c", "import harmony_bench.cli, harmony_model; "
                  "print(harmony_bench.cli.__file__); print(harmony_model.__file__)"], cwd=work, env=env)
    assert all(Path(f).is_relative_to(site) for f in where.split()), where

    hb = str(venv / "bin" / "harmony-bench")
    assert "150 valid cases" in _run([hb, "cases", "validate"], cwd=work, env=env)
    summary = json.loads(_run([hb, "run", "--model", "static", "--limit", "1", "--metrics", "avoffset@onset-motion",
                               "--out", "runs/static", "--json"], cwd=work, env=env))
    assert summary["clips_generated"] == 3 and summary["rows"]["error"] == 0, summary  # first case of each subset
    assert summary["rows"]["ok"] + summary["rows"]["unscorable"] >= 1, summary
    assert (work / "runs" / "static" / "report" / "report.html").is_file()
    listed = _run([hb, "models"], cwd=work, env=env)
    assert {"harmony", "static", "noise", "dir", "cmd"} <= set(re.findall(r"^(\w+)\s", listed, re.M)), listed
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert _run([hb, "--version"], cwd=work, env=env).split() == ["harmony-bench", version]


def _run(cmd, **kw) -> str:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout
