"""What each multi-face rule gives on clips with one speaking and one silent face, and the cost
of syncnet@v2's face stage (S3FD and scene cuts) per frame.

Rules, applied to the same per-track results:
- mean:        the unweighted mean over the clip's face tracks (syncnet@v2's rule, ours);
- active:      the track with the highest confidence (syncnet@v2+active-speaker);
- first face:  Verse-Bench 5645a09 (SyncnetInferencer.crop_face / infer): per frame the first face
               the detector lists, runs of frames with a face as segments (>= 2 s), the mean over
               segments. With both faces in every frame the clip is ONE segment of whichever face
               the detector lists first: the speaker's value or the silent face's, printed as
               both cases (insightface's order is by detection score, not by who speaks);
               Verse-Bench's Synchronizer drops the clip when a segment's |offset| >= 14 frames
               (counted as "refused", left out of the means);
- syncnet_python itself stops at one result per track (run_syncnet.py), no clip value.

The real syncnet_v2.model and sfd_face.pth are not available on this machine, so the per-track
results come from `lipsync@facemesh` (mediapipe face mesh tracks, the same offset search, its
own scale: LipSync-C / LipSync-D, not Sync-C / Sync-D). The rules are arithmetic on per-track
results, so their relation carries over; the values do not. Clips: drawn faces (SynthAV
primitives) on a 160 x 320 canvas, 5 s at 25 fps, espeak-ng speech, the speaker left or right,
audio in sync or 5 frames late.

    python benchmarks/bench_syncnet_multi_face.py [--clips 6]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from harmony_bench.media import Clip

FPS, SR, SECONDS = 25, 16000, 5.0
SENTENCES = ("The quick brown fox jumps over the lazy dog near the river bank.",
             "Seven happy children painted a bright red barn before lunch.",
             "Please bring the blue umbrella when you leave for the station.",
             "A gentle wind moved the tall grass across the quiet hill.")
RULES = ("mean", "active", "first face = speaker", "first face = silent")


def two_face_clip(seed: int, speaker_left: bool, late_frames: int, partner: bool = True) -> Clip:
    """A speaking face beside a silent one (or alone); the audio `late_frames` frames late."""
    from harmony_model.synthav import render, speech

    n = int(SECONDS * SR)
    wave, _ = speech.speak(SENTENCES[seed % len(SENTENCES)], "en-us", rate=160 + 5 * seed, sample_rate=SR)
    voice = np.zeros(n, np.float32)
    start = int(0.3 * SR)
    voice[start : start + len(wave[: n - start])] = wave[: n - start]
    env = speech.envelope(voice, SR, FPS)
    speaker_x, silent_x = (0.25, 0.75) if speaker_left else (0.75, 0.25)
    frames = []
    for t in range(int(SECONDS * FPS)):
        img = render.canvas((160, 320))
        render.draw_face(None, float(env[t]), render.FaceStyle.from_seed(seed), image=img, center=(speaker_x, 0.52))
        if partner:
            render.draw_face(None, 0.0, render.FaceStyle.from_seed(seed + 100), image=img, center=(silent_x, 0.52))
        frames.append(img)
    audio = np.zeros(n, np.float32)
    shift = late_frames * SR // FPS
    audio[shift:] = voice[: n - shift]
    return Clip(frames=np.stack(frames), fps=FPS, audio=audio, sample_rate=SR,
                source=f"seed {seed}, speaker {'left' if speaker_left else 'right'}, audio {late_frames} frames late")


def per_track(clip: Clip) -> list[dict]:
    """lipsync@facemesh's per-track results, each with the face's centre x (to tell who is who)."""
    from harmony_bench.metrics.sync import faces
    from harmony_bench.metrics.sync.lipsync import MIN_TRACK, LipSyncMetric

    score = LipSyncMetric().score(clip, None)
    tracks = faces.lip_tracks(clip.stream(FPS), MIN_TRACK)
    for row, track in zip(score.details["tracks"], tracks):
        row["x"] = float(track.centres[:, 0].mean()) / clip.frames.shape[2]
    return score.details["tracks"]


def rules(tracks: list[dict], speaker_left: bool) -> dict[str, tuple[float, float, float]]:
    """(C, D, |offset|) of the clip under each rule."""
    def value(rows):
        return (float(np.mean([r["lipsync_c"] for r in rows])), float(np.mean([r["lipsync_d"] for r in rows])),
                float(np.mean([abs(r["offset_frames"]) for r in rows])))

    speaker = [r for r in tracks if (r["x"] < 0.5) == speaker_left]
    silent = [r for r in tracks if (r["x"] < 0.5) != speaker_left]
    out = {"mean": value(tracks), "active": value([max(tracks, key=lambda r: r["lipsync_c"])])}
    for name, rows in (("first face = speaker", speaker), ("first face = silent", silent)):
        if rows:  # one segment; Verse-Bench returns no value when its |offset| reaches 14 frames
            out[name] = None if abs(rows[0]["offset_frames"]) >= 14 else value(rows[:1])
    return out


def multi_face_table(n_clips: int) -> None:
    print("# multi-face rules: per-track values from lipsync@facemesh (LipSync-C / LipSync-D, NOT Sync-C / Sync-D)")
    print(f"# {n_clips} clips per row (seeds 0..{n_clips - 1}, speaker left on even seeds); mean over clips; "
          "|offset| in frames")
    print(f"{'clips':34s} {'rule':22s} {'C':>7s} {'D':>7s} {'|off|':>6s} {'tracks':>6s} {'refused':>7s}")
    for partner, late in ((False, 0), (True, 0), (False, 5), (True, 5)):
        by_rule: dict[str, list[tuple[float, float, float] | None]] = {r: [] for r in RULES}
        n_tracks = []
        for seed in range(n_clips):
            left = seed % 2 == 0
            tracks = per_track(two_face_clip(seed, left, late, partner))
            n_tracks.append(len(tracks))
            for name, v in rules(tracks, left).items():
                by_rule[name].append(v)
        label = f"{'speaker + silent face' if partner else 'speaker alone'}, audio +{late} fr"
        for name in RULES:
            kept = [v for v in by_rule[name] if v is not None]
            refused = len(by_rule[name]) - len(kept)
            if not by_rule[name]:
                continue
            c, d, off = (f"{statistics.mean(v[i] for v in kept):7.3f}" if kept else f"{'-':>7s}" for i in range(3))
            print(f"{label:34s} {name:22s} {c} {d} {off[1:]} {statistics.mean(n_tracks):6.1f} {refused:7d}")


def face_stage_timing(repeats: int) -> None:
    """Seconds per frame for S3FD (seeded random weights: the same network and cost as the
    official file) at two frame sizes, and for the scene-cut pass."""
    import torch

    from harmony_bench.metrics.sync import faces
    from harmony_bench.metrics.sync.s3fd import S3FD, S3FDNet
    from harmony_bench.metrics.sync.testing import seeded_s3fd_state

    net = S3FDNet()
    net.load_state_dict(seeded_s3fd_state(0))
    detector = S3FD(net)
    print(f"# face stage, CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; median of {repeats}")
    rng = np.random.default_rng(0)
    for h, w in ((480, 832), (720, 1280)):
        frames = rng.integers(0, 256, (10, h, w, 3), dtype=np.uint8)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            detector.detect_frames(frames)
            times.append((time.perf_counter() - start) / len(frames))
        cut = []
        for _ in range(repeats):
            start = time.perf_counter()
            faces.scene_cuts(frames)
            cut.append((time.perf_counter() - start) / len(frames))
        per_frame = statistics.median(times)
        print(f"S3FD {h}x{w} (network input {h // 4}x{w // 4}): {per_frame:.3f} s/frame, {per_frame * 125:.1f} s per 5 s clip; "
              f"scene cuts {statistics.median(cut) * 1000:.2f} ms/frame")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    multi_face_table(args.clips)
    face_stage_timing(args.repeats)


if __name__ == "__main__":
    main()
