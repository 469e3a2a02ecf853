"""Third-party models without Python: a folder of pre-generated clips, or an external command."""

from __future__ import annotations

import os
import shlex
import string
import subprocess
from pathlib import Path

from harmony_bench.cases import Case
from harmony_bench.models.base import Capabilities, GeneratedClip, GenerationError, Model, register_model


@register_model("dir")
class DirModel(Model):
    """`dir:PATH`: clips generated elsewhere, named `<case id>.mp4` (optionally `<case id>.wav`)."""

    name = "dir"
    capabilities = Capabilities(joint=True, languages=("en", "zh"))

    def __init__(self, arg: str | None = None, device: str = "cpu"):
        super().__init__(arg, device)
        if not arg:
            raise ValueError("dir: needs a folder, e.g. --model dir:path/to/clips")
        self.folder = Path(arg).expanduser().resolve()
        if not self.folder.is_dir():
            raise ValueError(f"dir:{arg}: no such folder")
        self.name = f"dir:{self.folder.name}"

    def describe(self) -> dict:
        # two folders may share a base name: the full path tells their runs apart
        return {**super().describe(), "folder": str(self.folder)}

    def preflight(self, cases: list[Case]) -> list[str]:
        ids = {c.id for c in cases}
        present = {p.stem for p in self.folder.glob("*.mp4")}
        notes = [f"missing clip for case {i}: {self.folder / (i + '.mp4')}" for i in sorted(ids - present)]
        notes += [f"extra file not in the case set (ignored): {self.folder / (i + '.mp4')}" for i in sorted(present - ids)]
        return notes

    def generate(self, case: Case, seed: int, out_dir: Path) -> GeneratedClip:
        video = self.folder / f"{case.id}.mp4"
        if not video.is_file():
            raise GenerationError(f"missing clip: {video}")
        wav = video.with_suffix(".wav")
        return GeneratedClip(video, wav if wav.is_file() else None)


CMD_FIELDS = ("id", "subset", "video_caption", "audio_caption", "transcript", "spoken_word_en", "spoken_word_zh",
              "language", "duration", "reference_image", "reference_audio", "seed", "out", "out_wav")


def check_template(argv: list[str]) -> None:
    """Refuse unknown or malformed {fields} when the model is built, not once per case."""
    for part in argv:
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(part) if name is not None]
        except ValueError as exc:
            raise ValueError(f"cmd template argument {part!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
        for name in names:
            if name not in CMD_FIELDS:
                raise ValueError(f"cmd template uses unknown field {{{name}}}; known: {', '.join(CMD_FIELDS)}")


class _Fields(string.Formatter):
    """str.format over a template argument; unknown fields are an error naming the field."""

    def get_value(self, key, args, kwargs):
        if key not in kwargs:
            raise GenerationError(f"cmd template uses unknown field {{{key}}}; known: {', '.join(sorted(kwargs))}")
        return kwargs[key]


@register_model("cmd")
class CmdModel(Model):
    """`cmd:TEMPLATE`: run an external program per case.

    The template is split into arguments once (shell-like quoting, but no shell ever runs); each
    argument is then filled from the case, so a caption stays one argument whatever characters it
    holds. Fields: {id} {subset} {video_caption} {audio_caption} {transcript} {spoken_word_en}
    {spoken_word_zh} {language} {duration} {reference_image} {reference_audio} {seed} {out}
    {out_wav}. The program must write {out} (mp4), optionally {out_wav}. Time limit per case:
    $HARMONY_BENCH_CMD_TIMEOUT seconds (default 1800).
    """

    name = "cmd"
    capabilities = Capabilities(joint=True, languages=("en", "zh"))

    def __init__(self, arg: str | None = None, device: str = "cpu"):
        super().__init__(arg, device)
        if not arg:
            raise ValueError("cmd: needs a command template, e.g. --model 'cmd:python gen.py --text {transcript} --out {out}'")
        self.argv_template = shlex.split(arg)
        check_template(self.argv_template)
        self.timeout = float(os.environ.get("HARMONY_BENCH_CMD_TIMEOUT", "1800"))
        self.name = f"cmd:{Path(self.argv_template[0]).name}"

    def argv(self, case: Case, seed: int, out_dir: Path) -> list[str]:
        out = out_dir / f"{case.id}.mp4"
        fields = {
            "id": case.id, "subset": case.subset, "video_caption": case.video_caption,
            "audio_caption": case.audio_caption or "", "transcript": case.transcript or "",
            "spoken_word_en": case.spoken_word_en or "", "spoken_word_zh": case.spoken_word_zh or "",
            "language": case.language or "", "duration": str(case.duration),
            "reference_image": str(case.reference_image_path), "reference_audio": str(case.reference_audio_path),
            "seed": str(seed), "out": str(out), "out_wav": str(out.with_suffix(".wav")),
        }
        fmt = _Fields()
        return [fmt.vformat(part, (), fields) for part in self.argv_template]

    def generate(self, case: Case, seed: int, out_dir: Path) -> GeneratedClip:
        argv = self.argv(case, seed, out_dir)
        out = out_dir / f"{case.id}.mp4"
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, shell=False)
        except subprocess.TimeoutExpired:
            raise GenerationError(f"{argv[0]} exceeded the {self.timeout:.0f} s limit") from None
        except OSError as exc:
            raise GenerationError(f"cannot start {argv[0]}: {exc}") from None
        if proc.returncode != 0:
            raise GenerationError(f"{argv[0]} exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
        if not out.is_file():
            raise GenerationError(f"{argv[0]} did not write {out}")
        wav = out.with_suffix(".wav")
        return GeneratedClip(out, wav if wav.is_file() else None)
