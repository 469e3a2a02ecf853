"""The embedded checkpoint: the full Harmony configuration (GLDI + RoPE alignment + CTS) trained
on SynthAV, exported to harmony_model/checkpoints/tiny/.

    python -m harmony_model.synthav.checkpoint               # train (or resume), then export
    python -m harmony_model.synthav.checkpoint --train-only  # train (or resume) only, e.g. in the background
    python -m harmony_model.synthav.checkpoint --budget table --out DIR   # the table budget's +CTS seed 0

Its candidate (SHIPPED_BUDGET) is the curriculum budget's "+CTS" model at training seed 0:
the same config as that ablation row, so the same training run (`ablation.runs_dir`; reused
when finished, resumed when interrupted). The export first runs `sync_check` on the candidate
(96 held-out 2 s clips, the checkpoint's own sampling) and refuses a candidate that is not in
sync overall and in the speech and complex flavours (`sync_check.passes`; `--force` overrides).
The export writes sync_check.json, model.safetensors + config.json
(what `HarmonyPipeline.from_pretrained` loads), loss_log.jsonl, loss_curve.png and
data_seed.json (how the training data was made).
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

from harmony_model import SHIPPED_CHECKPOINT
from harmony_model.synthav.ablation import (REPO, SYNC, Budget, runs_dir, synthav_config, train_variant,
                                            variant_config)
from harmony_model.synthav.generator import SPLITS
from harmony_model.synthav.source import GENERATOR_VERSION

SHIPPED = SHIPPED_CHECKPOINT
VARIANT, SEED = "cts", 0
SHIPPED_BUDGET = replace(SYNC, seeds=(SEED,))
BUDGETS = {"curriculum": SHIPPED_BUDGET, "table": replace(Budget(), seeds=(SEED,))}


def export(run_dir: Path, out: Path, budget: Budget) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "config.json"):
        shutil.copyfile(run_dir / "model" / name, out / name)
    shutil.copyfile(run_dir / "loss_log.jsonl", out / "loss_log.jsonl")
    cfg = variant_config(VARIANT, SEED, budget)
    data = {
        "generator": "harmony_model.synthav.generator.generate", "generator_version": GENERATOR_VERSION,
        "split": "train", "seeds": [SPLITS["train"].start, SPLITS["train"].start + budget.train_clips],
        "clip": asdict(synthav_config(cfg, budget.duration)), "training_seed": SEED, "batch_seed": "train.seed * 1000003 + step",
        "budget": asdict(budget),
    }
    (out / "data_seed.json").write_text(json.dumps(data, indent=1) + "\n")
    plot_loss(out / "loss_log.jsonl", out / "loss_curve.png")


def plot_loss(log: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, label in (("total", "total (Eq. 3)"), ("joint", "joint"), ("audio_driven", "audio-driven video"),
                       ("video_driven", "video-driven audio")):
        have = [r for r in rows if key in r]  # the CTS tasks run in the curriculum's last stage only
        if have:
            ax.plot([r["step"] for r in have], [r[key] for r in have], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching loss")
    ax.set_title("Embedded checkpoint: CTS training on SynthAV")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harmony_model.synthav.checkpoint", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(SHIPPED), help="export folder")
    ap.add_argument("--budget", choices=tuple(BUDGETS), default="curriculum", help="which budget's +CTS run")
    ap.add_argument("--train-only", action="store_true", help="train (or resume) without exporting")
    ap.add_argument("--force", action="store_true", help="export even when the candidate fails sync_check")
    args = ap.parse_args(argv)
    budget = BUDGETS[args.budget]
    runs = runs_dir(budget)
    model = train_variant(VARIANT, SEED, budget, runs)
    if args.train_only:
        print(f"trained: {model}")
        return 0
    from harmony_model.synthav.sync_check import DEFAULT_CLIPS, DEFAULT_SECONDS, check, passes

    result = check(model, DEFAULT_CLIPS, DEFAULT_SECONDS, None, None)
    if not passes(result) and not args.force:
        print(json.dumps(result, indent=1))
        print(f"{model} fails sync_check (above): not exported (--force exports anyway)")
        return 1
    export(runs / VARIANT / f"seed{SEED}", Path(args.out), budget)
    (Path(args.out) / "sync_check.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"exported to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
