"""The package layout: no symbolic links in the package, and pyproject's package list (with its
package-dir mapping of metrics/, reports/ and cases/ into harmony_bench) names every package folder."""

import subprocess
import tomllib
from pathlib import Path

import harmony_bench.case_set
import harmony_bench.metrics
import harmony_bench.reports
from tests.test_imports import package_folder

REPO = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_git_tracks_no_symbolic_link():
    listing = subprocess.run(["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    links = [line.split("\t")[1] for line in listing.splitlines() if line.startswith("120000")]
    assert not links, links


def test_package_list_names_every_folder_with_an_init():
    listed = {package_folder(p, SETUPTOOLS["package-dir"]) for p in SETUPTOOLS["packages"]}
    assert all((f / "__init__.py").is_file() for f in listed), sorted(map(str, listed))
    on_disk = {p.parent for top in ("harmony_bench", "harmony_model", *SETUPTOOLS["package-dir"].values())
               for p in (REPO / top).rglob("__init__.py")}
    assert on_disk == listed, sorted(map(str, on_disk ^ listed))


def test_mapped_packages_import_from_the_top_level_folders():
    for module, folder in ((harmony_bench.metrics, "metrics"), (harmony_bench.reports, "reports"),
                           (harmony_bench.case_set, "cases")):
        assert Path(module.__file__).resolve().parent == REPO / folder
