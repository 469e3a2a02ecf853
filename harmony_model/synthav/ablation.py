"""The component ablation of paper Table 3, reproduced on SynthAV.

    python -m harmony_model.synthav.ablation            # train, evaluate, write reports/ablation/
    python -m harmony_model.synthav.ablation --quick    # a smoke run (tiny budget, own folders)
    python -m harmony_model.synthav.ablation --curriculum   # the curriculum budget (SYNC), its own table

Variants (equal budgets: same data, batch size, optimiser steps and seeds):
    baseline   global cross-attention (Ovi-like), no RoPE alignment, no CTS
    +GLDI      frame-wise windowed cross-attention + global style attention (no RoPE alignment)
    +RoPE      + audio RoPE positions j * Tv/Ta
    +CTS       + Cross-Task Synergy (lambda_v 0.1, lambda_a 0.3)
and, at inference on the +CTS models, +SyncCFG (s_v 3, s_a 2) and the standard-CFG baseline
(text CFG, s_text 3). Rows without guidance sample the conditional model plainly.

Every (row, seed) result is a JSON file in the results folder; a finished one measured under the
same config fingerprint is skipped, and
training resumes from its last checkpoint, so the command can be stopped and run again.
Each test clip is scored against its SynthAV scene with `timing.measure_against` (the
ground-truth timing error, corr0, confidence) and with the offline AVOffset metric.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from harmony_model.synthav.generator import SynthAVConfig, generate, split_seeds
from harmony_model.synthav.rows import DEFAULT_TEST_LEVEL, ROWS, TRAINED, same_test, slug
from harmony_model.synthav.timing import measure_against, shift_audio

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Budget:
    """What every variant gets: the same clips, curriculum, optimiser steps, batches and seeds.

    `curriculum` splits `steps` over SynthAV levels (generator.LEVELS), easy first; CTS variants
    add the Eq. 3 tasks in the last stage only (the paper's cross-task stage comes last), so the
    data seen at every step is the same for every variant.
    """

    steps: int = 1000
    batch_size: int = 16
    seeds: tuple[int, ...] = (0, 1, 2)
    train_clips: int = 2000
    test_clips: int = 24
    sample_steps: int = 12
    size: int = 16
    layers: int = 3
    duration: float = 1.0  # seconds per clip, training and test
    fps: float = 8.0
    curriculum: tuple[tuple[str, float], ...] = (("hard", 1.0),)  # (level, fraction of steps)
    test_level: str = DEFAULT_TEST_LEVEL  # SynthAV level of the held-out test clips

    def stage_steps(self) -> list[tuple[str, int]]:
        """(level, steps) per stage; the last stage takes what rounding leaves."""
        steps = [int(round(f * self.steps)) for _, f in self.curriculum[:-1]]
        return [(lvl, n) for (lvl, _), n in zip(self.curriculum, [*steps, self.steps - sum(steps)])]


QUICK = Budget(steps=4, batch_size=4, seeds=(0,), train_clips=24, test_clips=3, sample_steps=2)
# The curriculum budget (issue 16): 2 s clips at 12 fps (22 scored frames, lags of +-6 frames),
# single isolated events -> several events -> the hard mix. 384 held-out clips per row (128 a
# flavour): evaluating is cheap next to training, and clips shrink the minimum detectable effect
# of a step where more seeds would cost a training run each.
CURRICULUM = (("single", 0.2), ("several", 0.2), ("hard", 0.6))
SYNC = Budget(steps=6000, batch_size=16, train_clips=2000, test_clips=384, duration=2.0, fps=12.0,
              curriculum=CURRICULUM)

def base_config(budget: Budget):
    """The tiny model at the ablation's scale: `duration` s clips at `fps`, `size` px, 16 kHz."""
    from harmony_model.config import tiny

    cfg = tiny()
    cfg.codec.height = cfg.codec.width = budget.size
    cfg.codec.fps = budget.fps
    cfg.codec.ref_audio_seconds = 0.5
    cfg.video.layers = budget.layers
    cfg.audio.transcript_max_len = 24  # SynthAV phrases are at most 20 bytes
    cfg.caption.max_len = 48
    cfg.train.batch_size = budget.batch_size
    cfg.train.checkpoint_every = 50
    cfg.train.log_every = 5
    return cfg


def variant_config(name: str, seed: int, budget: Budget):
    from harmony_model.config import Stage

    sw = TRAINED[name]
    cfg = base_config(budget)
    cfg.interaction.mode = sw["mode"]
    cfg.interaction.rope_align = sw["rope_align"]
    cfg.interaction.global_style = sw["global_style"]
    stages = budget.stage_steps()
    cts = (0.1, 0.3) if sw["cts"] else (0.0, 0.0)
    if len(stages) == 1:  # the config of the runs made before the curriculum, so their results stay valid
        cfg.train.stages = (Stage("joint", budget.steps, *cts),)
    else:
        cfg.train.stages = tuple(Stage(level, steps, *(cts if i == len(stages) - 1 else (0.0, 0.0)),
                                       data_options={"level": level}) for i, (level, steps) in enumerate(stages))
    cfg.train.seed = seed
    return cfg


EVAL_PROTOCOL = 2  # 2: each clip also scored against another generated clip's audio (null_*)


def config_fingerprint(cfg) -> str:
    """sha256 of the full model/training config and the evaluation protocol: a result measured
    under another config (an older tiny model, another budget) or protocol is recomputed."""
    blob = json.dumps({"config": cfg.to_dict(), "eval_protocol": EVAL_PROTOCOL}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def synthav_config(cfg, duration: float = 1.0, level: str = "hard") -> SynthAVConfig:
    """SynthAV clips at the model's codec size and rates."""
    c = cfg.codec
    return SynthAVConfig(size=c.height, fps=c.fps, duration=duration, sample_rate=c.sample_rate, level=level)


def train_variant(name: str, seed: int, budget: Budget, runs: Path, train_missing: bool = True) -> Path | None:
    """Train (or resume) one variant; returns its EMA checkpoint folder (None when it is not
    fully trained and `train_missing` is off)."""
    from harmony_model.synthav.source import make_source
    from harmony_model.train import saved_step, train

    cfg = variant_config(name, seed, budget)
    out = runs / name / f"seed{seed}"
    if (out / "model" / "config.json").is_file() and saved_step(out) >= budget.steps:
        return out / "model"
    if not train_missing:
        return None
    data = make_source(cfg, count=budget.train_clips, duration=budget.duration, cache_latents=True)
    if not (out / "train_state.pt").is_file():
        (out / "loss_log.jsonl").unlink(missing_ok=True)  # lines of an interrupted run before its first checkpoint
    return train(cfg, data, out, resume=True, progress=False)


# ---- evaluation -----------------------------------------------------------------------------------

def test_clips(cfg, count: int, duration: float = 1.0, level: str = "hard"):
    return [generate(s, config=synthav_config(cfg, duration, level)) for s in split_seeds("test", count)]


def clip_scores(clip, frames: np.ndarray, wave: np.ndarray, null_wave: np.ndarray) -> dict:
    """Ground-truth timing and the offline AVOffset metric for one clip, plus the timing of the
    same frames with `null_wave`, another clip's audio: a chance level for this very video, so a
    row's sync is read as a paired difference (corr0 - null_corr0) instead of against the data's."""
    m = measure_against(clip, frames, wave)
    null = measure_against(clip, frames, null_wave)
    return {"seed": clip.seed, "flavour": clip.flavour, **m.to_dict(), "null_error": null.error,
            "null_corr0": null.corr0, **_avoffset(frames, clip.fps, wave, clip.sample_rate)}


def null_partner(i: int, n: int) -> int:
    """The clip whose audio pairs with clip i for the chance level (7 apart: another flavour)."""
    return (i + 7) % n


def _avoffset(frames: np.ndarray, fps: float, wave: np.ndarray, sr: int) -> dict:
    from harmony_bench.media import Clip
    from harmony_bench.metrics.base import NotScorable
    from harmony_bench.metrics.sync.avoffset import AVOffsetMetric

    try:
        score = AVOffsetMetric().score(Clip(frames=frames, fps=fps, audio=wave, sample_rate=sr), None)
    except NotScorable as exc:
        return {"avoffset": None, "avoffset_reason": str(exc)}
    return {"avoffset": score.values["AV-offset"]}


def evaluate(model_dir: Path, guidance: str, scales: dict, clips, steps: int) -> list[dict]:
    from harmony_model.config import SampleConfig
    from harmony_model.pipeline import HarmonyPipeline

    pipe = HarmonyPipeline.from_pretrained(model_dir)
    sample = SampleConfig(steps=steps, shift=5.0, guidance=guidance, **scales)
    outs = [pipe.generate(request_for(clip), seed=clip.seed, sample=sample) for clip in clips]
    return [clip_scores(clip, out.frames, out.audio, outs[null_partner(i, len(outs))].audio)
            for i, (clip, out) in enumerate(zip(clips, outs))]


def request_for(clip):
    """The generation request of a SynthAV test clip: its captions, transcript, first frame and
    reference audio (never its audio or later frames)."""
    from harmony_model.pipeline import GenerationRequest

    return GenerationRequest(video_caption=clip.video_caption, audio_caption=clip.audio_caption,
                             transcript=clip.transcript or "", ref_image=clip.frames[0],
                             ref_audio=clip.reference_audio, duration=len(clip.frames) / clip.fps)


def anchors(cfg, clips) -> dict[str, list[dict]]:
    """Reference rows: the test clips themselves (through the model's codecs), the same with the
    audio 0.25 s late, and with the audio of another clip (random pairing)."""
    import torch

    from harmony_model.pretrained import build_codecs

    vc, ac = build_codecs(cfg.codec)

    def roundtrip(clip):
        v = torch.from_numpy(clip.frames).permute(0, 3, 1, 2)[None].float() / 127.5 - 1
        frames = ((vc.decode(vc.encode(v))[0].permute(0, 2, 3, 1).clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
        wave = ac.decode(ac.encode(torch.from_numpy(clip.audio)[None]))[0].numpy()[: len(clip.audio)]
        return frames, wave

    coded = [roundtrip(c) for c in clips]
    out = {"SynthAV data (codec round trip)": [], "data, audio 0.25 s late": [], "data, random pairing": []}
    for i, (clip, (frames, wave)) in enumerate(zip(clips, coded)):
        other = coded[null_partner(i, len(coded))][1]
        out["SynthAV data (codec round trip)"].append(clip_scores(clip, frames, wave, other))
        out["data, audio 0.25 s late"].append(clip_scores(clip, frames, shift_audio(wave, clip.sample_rate, 0.25), other))
        out["data, random pairing"].append(clip_scores(clip, frames, other, other))
    return out


# ---- the run ----------------------------------------------------------------------------------------

def run(budget: Budget, results: Path, runs: Path, only: set[str] | None = None,
        seeds: set[int] | None = None, train_missing: bool = True) -> None:
    """Evaluate every (row, seed) of the budget not yet in `results`, training its variant first
    (or, with `train_missing` off, leaving out the ones not fully trained)."""
    results.mkdir(parents=True, exist_ok=True)
    cfg = base_config(budget)
    clips = test_clips(cfg, budget.test_clips, budget.duration, budget.test_level)
    anchor_file = results / "anchors.json"
    stored = json.loads(anchor_file.read_text()) if anchor_file.is_file() else {}
    if stored.get("eval_protocol") != EVAL_PROTOCOL or not same_test(stored.get("budget", {}), asdict(budget)):
        _write(anchor_file, {"budget": asdict(budget), "eval_protocol": EVAL_PROTOCOL, "rows": anchors(cfg, clips)})
    for seed in budget.seeds:
        if seeds and seed not in seeds:
            continue
        for row, (variant, guidance, scales) in ROWS.items():
            if only and variant not in only:
                continue
            path = results / f"{slug(row)}-seed{seed}.json"
            fingerprint = config_fingerprint(variant_config(variant, seed, budget))
            if path.is_file() and (done := json.loads(path.read_text())).get("config_sha256") == fingerprint \
                    and same_test(done.get("budget", {}), asdict(budget)):
                continue
            started = time.perf_counter()
            model_dir = train_variant(variant, seed, budget, runs, train_missing)
            if model_dir is None:
                print(f"{row} seed {seed}: not trained yet, left out", flush=True)
                continue
            trained = time.perf_counter() - started
            model = model_identity(model_dir)
            rows = evaluate(model_dir, guidance, scales, clips, budget.sample_steps)
            _write(path, {"row": row, "variant": variant, "guidance": guidance, "scales": scales, "seed": seed,
                          "budget": asdict(budget), "config_sha256": fingerprint, "model": model,
                          "train_seconds_this_call": round(trained, 1),
                          "train_log": repo_relative(runs / variant / f"seed{seed}" / "loss_log.jsonl"),
                          "eval_seconds": round(time.perf_counter() - started - trained, 1), "clips": rows})
            print(f"{row} seed {seed}: mean error {np.mean([r['error'] for r in rows]):.3f} s", flush=True)


def model_identity(model_dir: Path) -> dict:
    """Which weights a result was measured on: their sha256 and the training step they were
    exported at (the train state's; it is saved after the export)."""
    from harmony_bench.weights import sha256_of
    from harmony_model.train import saved_step

    return {"weights_sha256": sha256_of(model_dir / "model.safetensors"), "trained_steps": saved_step(model_dir.parent)}


def repo_relative(path: Path) -> str:
    """A path as stored in a result: relative to the repository when inside it, so results
    read the same on every clone."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def runs_dir(budget: Budget) -> Path:
    """Where the training runs of a budget live: runs/ablation for the table's budget,
    runs/ablation-STEPS for a budget check, runs/curriculum-STEPS for curriculum budgets. A config
    trains one model wherever it is asked for, so the shipped checkpoint (checkpoint.py) reuses
    these runs."""
    if budget.curriculum != Budget.curriculum:
        return REPO / "runs" / f"curriculum-{budget.steps}"
    return REPO / "runs" / ("ablation" if budget.steps == Budget.steps else f"ablation-{budget.steps}")


def table_dir(budget: Budget) -> Path | None:
    """Where a budget's table goes: reports/ablation for the table's budget, .../curriculum for
    the curriculum's, .../curriculum-LEVEL for its models scored on test clips of another level;
    None for a budget check or smoke run (their tables stay under runs/)."""
    reports = REPO / "reports" / "ablation"
    if budget == Budget():
        return reports
    if replace(budget, test_level=SYNC.test_level) == SYNC:
        return reports / ("curriculum" if budget == SYNC else f"curriculum-{budget.test_level}")
    return None


def _write(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harmony_model.synthav.ablation", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny budget, results under runs/ablation-quick")
    ap.add_argument("--variants", default="", help="comma-separated trained variants to run (default: all)")
    ap.add_argument("--seeds", default="", help="comma-separated training seeds to run (default: all)")
    ap.add_argument("--steps", type=int, default=0,
                    help="a longer (or shorter) budget check under runs/ablation-STEPS (not the table); seed 0 "
                         "unless --seeds says otherwise")
    ap.add_argument("--curriculum", action="store_true",
                    help="the curriculum budget (SYNC: 2 s clips at 12 fps, single -> several -> hard, 384 test "
                         "clips); its table goes to reports/ablation/curriculum/")
    ap.add_argument("--test-level", default="hard", choices=("single", "several", "hard"),
                    help="with --curriculum: score the trained models on test clips of another SynthAV level (no "
                         "training: only seeds already trained are evaluated); table in "
                         "reports/ablation/curriculum-LEVEL/")
    ap.add_argument("--report-only", action="store_true", help="only rebuild the table and plot from results")
    args = ap.parse_args(argv)
    only_seeds = {int(s) for s in args.seeds.split(",") if s}
    base = SYNC if args.curriculum else Budget()
    check = replace(base, steps=args.steps, seeds=tuple(sorted(only_seeds)) or (0,))
    budget = QUICK if args.quick else check if args.steps else base
    runs = REPO / "runs" / "ablation-quick" if args.quick else runs_dir(budget)
    if args.test_level != budget.test_level:
        if budget != SYNC:
            ap.error("--test-level goes with --curriculum (the curriculum's trained models)")
        budget = replace(budget, test_level=args.test_level)
    table = table_dir(budget)
    results = table / "results" if table else runs / "results"
    if not args.report_only:
        run(budget, results, runs, set(filter(None, args.variants.split(","))) or None, only_seeds or None,
            train_missing=budget.test_level == Budget.test_level)
    from harmony_model.synthav.report import write_report

    write_report(results, table or runs)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
