"""Docs that cannot rot: every relative link and anchor in the tracked Markdown resolves, and every
command block marked runnable runs.

A runnable block is a ```bash block right after a line `<!-- runnable -->` (fast) or
`<!-- runnable slow -->` (a slow test). The blocks of one page run in order, under `bash -euo
pipefail`, in one temporary folder with this environment's bin folder first on PATH (so
`harmony-bench` and `python` are the clone's), and must exit 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)")  # [text](target); images have none to check here
FENCE = re.compile(r"^(```|~~~)")
MARKER = re.compile(r"^<!-- runnable( slow)? -->$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    slow: bool
    code: str


def tracked_markdown() -> list[Path]:
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.md"],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout
    return sorted(REPO / rel for rel in filter(None, listing.split("\0")) if (REPO / rel).is_file())


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks: links and headings live there."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            out.append((number, line))
    return out


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(text):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def broken_links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    problems = []
    for number, line in prose_lines(text):
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...: not checked offline
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(REPO)}:{number}: {target}"
            if not dest.exists():
                problems.append(f"{where}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
                problems.append(f"{where}: no heading with anchor #{anchor}")
    return problems


def runnable_blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = []
    for i, line in enumerate(lines):
        marker = MARKER.match(line.strip())
        if not marker:
            continue
        if i + 1 >= len(lines) or lines[i + 1].strip() != "```bash":
            raise AssertionError(f"{page.relative_to(REPO)}:{i + 1}: a runnable marker must precede a ```bash block")
        end = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == "```")
        blocks.append(Block(str(page.relative_to(REPO)), i + 3, bool(marker.group(1)), "\n".join(lines[i + 2:end])))
    return blocks


def run_page(blocks: list[Block], folder: Path) -> None:
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)  # the clone's environment, as a user's shell has it
    for block in blocks:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (f"{block.page}:{block.line}: exit {done.returncode}\n{block.code}\n"
                                      f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


PAGES = tracked_markdown()
RUNNABLE = {str(p.relative_to(REPO)): runnable_blocks(p) for p in PAGES}


def test_every_relative_link_and_anchor_resolves():
    assert {"README.md", "CHANGELOG.md"} <= set(RUNNABLE) and any(p.parent.name == "docs" for p in PAGES)
    problems = [problem for page in PAGES for problem in broken_links(page)]
    assert not problems, "\n".join(problems)


def test_the_readme_stays_short_and_links_every_docs_page():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    linked = {(REPO / target.partition("#")[0]).resolve() for target in LINK.findall(readme)}
    unlinked = [p.name for p in sorted((REPO / "docs").glob("*.md")) if p.resolve() not in linked]
    assert not unlinked, unlinked


def test_no_command_calls_torchrun():
    """The `torchrun` script is not on the PATH of the clone's environment (.venv-hb/); the same
    launcher is `python -m torch.distributed.run`, which always is."""
    calls = [f"{p.relative_to(REPO)}:{n}" for p in PAGES
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if re.match(r"^\s*(\$\s*)?torchrun\b", line)]
    assert not calls, calls


@pytest.mark.parametrize("page", [p for p, blocks in RUNNABLE.items() if blocks and not any(b.slow for b in blocks)])
def test_runnable_commands_run(page, tmp_path):
    run_page(RUNNABLE[page], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p, blocks in RUNNABLE.items() if any(b.slow for b in blocks)])
def test_slow_runnable_commands_run(page, tmp_path):
    run_page(RUNNABLE[page], tmp_path)


def test_the_checker_finds_a_broken_link_an_anchor_and_a_marker_without_a_block(tmp_path, monkeypatch):
    """Known answers on a page of our own."""
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    (tmp_path / "other.md").write_text("# A `code` title, with punctuation!\n\n## Repeat\n\n## Repeat\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-code-title-with-punctuation) [ok](other.md#repeat-1) [web](https://x.y)\n"
                    "[gone](missing.md) [bad](other.md#nowhere) `[in code](missing.md)`\n"
                    "```bash\n[fenced](missing.md)\n```\n<!-- runnable -->\nls\n")
    assert broken_links(page) == ["page.md:2: missing.md: no such file",
                                  "page.md:2: other.md#nowhere: no heading with anchor #nowhere"]
    with pytest.raises(AssertionError, match="must precede"):
        runnable_blocks(page)
    page.write_text("<!-- runnable -->\n```bash\ntrue\nfalse\n```\n")
    blocks = runnable_blocks(page)
    assert blocks == [Block("page.md", 3, False, "true\nfalse")]
    with pytest.raises(AssertionError, match="exit 1"):
        run_page(blocks, tmp_path)
