"""Is a checkpoint in sync? Its timing on held-out SynthAV clips against its own chance level.

    python -m harmony_model.synthav.sync_check --json                 # the shipped checkpoint
    python -m harmony_model.synthav.sync_check --checkpoint DIR --clips 96 --seconds 2 --json
    python -m harmony_model.synthav.sync_check --checkpoint DIR --level single   # a curriculum stage's clips

Each held-out test clip (split "test", never trained on; flavours ambient / speech / complex in
turn) is generated from its captions, transcript, first frame and reference audio with the
checkpoint's own sampling settings (what `harmony-bench run --model harmony` uses) unless
`--guidance` / `--steps` say otherwise, and scored by the ablation's evaluation
(`ablation.evaluate`): ground-truth timing error and corr0 (`timing.measure_against`), and the
same frames scored with the audio of another generated clip (7 clips apart, another flavour):
the chance level, so a temporal habit shared by every clip does not count as sync.

Reported (mean and a 95% percentile bootstrap over clips; the differences are paired per clip):
timing_error, chance (the error against another clip's audio), error_minus_chance, corr0,
corr0_minus_chance, over all clips and per flavour. In sync = error_minus_chance.ci_high < 0 and
corr0_minus_chance.ci_low > 0.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from harmony_model import SHIPPED_CHECKPOINT as SHIPPED
from harmony_model.synthav.ablation import evaluate, repo_relative, test_clips
from harmony_model.synthav.generator import FLAVOURS, LEVELS
from harmony_model.synthav.report import bootstrap, clip_values

DEFAULT_CLIPS, DEFAULT_SECONDS = 96, 2.0
SHIPPING_FLAVOURS = ("speech", "complex")  # beyond the overall figures, sync must hold where speech is
SCORES = {"timing_error": "error", "chance": "null_error", "error_minus_chance": "error_gain",
          "corr0": "corr0", "corr0_minus_chance": "corr0_gain"}


def summarise(rows: list[dict], seed: int = 0) -> dict:
    """The figures of some scored clips (ablation.clip_scores rows)."""
    rng = np.random.default_rng(seed)
    out: dict = {"clips": len(rows)}
    for name, key in SCORES.items():
        mean, low, high = bootstrap({0: clip_values(rows, key)}, rng)
        out[name] = {"mean": round(mean, 4), "ci_low": round(low, 4), "ci_high": round(high, 4)}
    out["in_sync"] = bool(out["error_minus_chance"]["ci_high"] < 0 < out["corr0_minus_chance"]["ci_low"])
    return out


def passes(result: dict) -> bool:
    """The bar for shipping a checkpoint: in sync over all clips and in the speech flavours."""
    return result["in_sync"] and all(result["flavours"][f]["in_sync"] for f in SHIPPING_FLAVOURS)


def check(checkpoint: Path, clips: int, seconds: float, guidance: str | None, steps: int | None,
          level: str = "hard") -> dict:
    from harmony_bench.weights import sha256_of
    from harmony_model.config import HarmonyConfig

    if clips < 8:
        raise ValueError(f"--clips {clips}: the chance pairing needs at least 8 clips")
    cfg = HarmonyConfig.load(checkpoint / "config.json")
    sample = cfg.sample
    guidance = guidance or sample.guidance
    steps = steps or sample.steps
    scales = {"s_v": sample.s_v, "s_a": sample.s_a, "s_text": sample.s_text}
    rows = evaluate(checkpoint, guidance, scales, test_clips(cfg, clips, seconds, level), steps)
    # the folder relative to the repository (no machine's absolute path), and the weights' hash
    result = {"checkpoint": repo_relative(checkpoint.resolve()),
              "weights_sha256": sha256_of(checkpoint / "model.safetensors"), "seconds": seconds,
              "fps": cfg.codec.fps, "level": level,
              "sampling": {"guidance": guidance, "steps": steps, "shift": 5.0, **scales}, **summarise(rows)}
    result["flavours"] = {f: summarise([r for r in rows if r["flavour"] == f]) for f in FLAVOURS
                          if any(r["flavour"] == f for r in rows)}
    return result


def _line(name: str, s: dict) -> str:
    def f(key: str) -> str:
        return f"{s[key]['mean']:+.3f} [{s[key]['ci_low']:+.3f}, {s[key]['ci_high']:+.3f}]"

    return (f"{name:8s} {s['clips']:3d} clips  error {f('timing_error')} s  chance {f('chance')} s  "
            f"error-chance {f('error_minus_chance')} s  corr0-chance {f('corr0_minus_chance')}  "
            f"{'in sync' if s['in_sync'] else 'NOT in sync'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harmony_model.synthav.sync_check", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=str(SHIPPED), help="checkpoint folder (default: the shipped one)")
    ap.add_argument("--clips", type=int, default=DEFAULT_CLIPS, help="held-out test clips (default 96, 32 per flavour)")
    ap.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="clip length (default 2 s)")
    ap.add_argument("--guidance", choices=("none", "text", "sync", "both"), default=None,
                    help="override the checkpoint's guidance")
    ap.add_argument("--steps", type=int, default=None, help="override the checkpoint's sampling steps")
    ap.add_argument("--level", choices=tuple(LEVELS), default="hard",
                    help="SynthAV level of the test clips (default: the hard mix; easier ones follow a curriculum)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    folder = Path(args.checkpoint)
    if not (folder / "config.json").is_file():
        raise SystemExit(f"{folder}: no checkpoint here (config.json missing)")
    result = check(folder, args.clips, args.seconds, args.guidance, args.steps, args.level)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{folder}: {args.seconds:g} s clips at {result['fps']:g} fps, sampling {result['sampling']}")
        print(_line("all", result))
        for flavour, s in result["flavours"].items():
            print(_line(flavour, s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
