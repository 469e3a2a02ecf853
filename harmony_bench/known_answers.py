"""Publishers' known answers: their reference inputs, their printed outputs, and the check.

`harmony-bench weights check` runs each official backend whose weights are present on the input
its publisher ran, through this suite's loader and preprocessing for that backend, and compares
with the output the publisher printed, within the publisher's tolerance (or, where none is
given, the one stated here). It tells a user whether their torch, decoders and weight files
reproduce the reference numbers before any number of theirs is read beside the paper's.

Inputs are `WeightFile`s under `known-answers/<backend>/` in the weights folder, pinned by the URL
of the publisher's repository at a commit and the sha256 of that file there (computed from the
git blob at that commit). Nothing here downloads: `weights fetch --known-answers` does. The
expected numbers are copied from the file named in each answer's `source`, at that commit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harmony_bench.weights import WeightFile, WeightsMismatch, WeightsMissing, resolve

FOLDER = "known-answers"


@dataclass(frozen=True)
class Expected:
    """One published value: a number compared within atol + rtol * |expected| (torch.allclose's
    rule), or a phrase that the output text must contain (lower case)."""

    label: str
    value: float | str
    atol: float = 0.0
    rtol: float = 0.0

    def holds(self, got: float | str) -> bool:
        if isinstance(self.value, str):
            return self.value in str(got).lower()
        return math.isfinite(float(got)) and abs(float(got) - self.value) <= self.atol + self.rtol * abs(self.value)


@dataclass(frozen=True)
class KnownAnswer:
    metric: str  # registry key of the backend whose weights and loader are checked
    inputs: tuple[WeightFile, ...]
    expected: tuple[Expected, ...]
    source: str  # repository, commit and file where the expected values are printed
    tolerance: str  # where the tolerance comes from
    compute: Callable[[object, dict[str, Path]], dict[str, float | str]]  # (set-up metric, input paths) -> values
    note: str = ""  # what differs from the publisher's run


@dataclass(frozen=True)
class Comparison:
    label: str
    expected: float | str
    got: float | str | None
    ok: bool


@dataclass
class CheckResult:
    metric: str
    verdict: str  # "pass", "FAIL", "no weights", "inputs missing", "cannot run", "not checked here",
    # or "no published known answer"
    reason: str = ""
    comparisons: list[Comparison] = field(default_factory=list)
    source: str = ""
    tolerance: str = ""
    note: str = ""
    weights: str = ""  # "name=sha256;..." of the files the backend loaded


def _raw(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def _input(backend: str, repo: str, commit: str, path: str, sha256: str, size: int, licence: str) -> WeightFile:
    return WeightFile(name=f"{FOLDER}/{backend}/{Path(path).name}", sha256=sha256, source=_raw(repo, commit, path),
                      url=_raw(repo, commit, path), licence=licence, size_bytes=size,
                      hash_source=f"sha256 of the git blob {repo}@{commit[:12]}:{path}")


# -- MUSIQ: pyiqa's calibration images (TID2013, five distorted images) --------------------------
PYIQA = ("chaofengc/IQA-PyTorch", "01ae427f9afd66842031d3a7cb694dcad5b5cbb8")
PYIQA_LICENCE = "TID2013 images as redistributed in IQA-PyTorch (PolyForm Noncommercial 1.0.0); research use"
MUSIQ_IMAGES = tuple(_input("musiq", *PYIQA, f"ResultsCalibra/dist_dir/{name}.bmp", sha, 589_878, PYIQA_LICENCE)
                     for name, sha in (
                         ("I03", "bb817e7fef614dcc12b3a99af33ce3d201bc4d56c4827254c0bcc4fa6ea11151"),
                         ("I04", "f3d685983aacd76b2c131579ea60cee345205a1169a4bd2ff5f3039ecf81729e"),
                         ("I06", "726e043e99d8e07235c2535107d4bb6fc85bad0cb3cc7d6ba3ecf3364ac97539"),
                         ("I08", "8ad39042d7e17d6c96ecfd8c4b9f0e98c803b303a92d368ef57bc9c3c40f5330"),
                         ("I19", "e0c6000652d270d1c39b7094761d01e14695fc5aa7cb76b945be6391327ee886")))
# ResultsCalibra/results_official.csv: the official (TensorFlow) MUSIQ scores; pyiqa's own port
# scores (calibration_summary.csv, "musiq-spaq(ours)") are 17.6808, 70.6541, 79.0371, 79.3199, 50.455
MUSIQ_SPAQ_OFFICIAL = (17.685, 70.492, 78.740, 79.015, 49.105)
MUSIQ_KONIQ_OFFICIAL = (12.494, 75.332, 73.429, 75.188, 36.938)
PYIQA_ATOL, PYIQA_RTOL = 1e-2, 3e-2  # tests/test_metric_general.py TOL_DICT['musiq-spaq'], ['musiq-koniq']


def _musiq_expected(scores: Sequence[float]) -> tuple[Expected, ...]:
    return tuple(Expected(Path(wf.name).name, s, PYIQA_ATOL, PYIQA_RTOL) for wf, s in zip(MUSIQ_IMAGES, scores))


def musiq_scores(metric, paths: dict[str, Path]) -> dict[str, float]:
    """Each image whole, as pyiqa's calibration test feeds it (imread2tensor: RGB in [0, 1], no
    resize): the checkpoint-scale score (0-100) of this suite's MUSIQ port."""
    from PIL import Image

    from harmony_bench.metrics.video.iq import musiq_frame_scores

    out = {}
    for wf in MUSIQ_IMAGES:
        frame = np.asarray(Image.open(paths[wf.name]).convert("RGB"))
        out[Path(wf.name).name] = float(musiq_frame_scores(metric._model, frame[None], metric.device, None, 1)[0])
    return out


# -- Whisper: openai-whisper's test clip and the phrases its test expects -------------------------
WHISPER = ("openai/whisper", "c0d2f624c09dc18e709e37c2ad90c039a4eb72a2")
JFK = _input("whisper", *WHISPER, "tests/jfk.flac", "63a4b1e4c1dc655ac70961ffbf518acd249df237e5a0152faae9a4a836949715",
             1_152_693, "MIT (openai/whisper repository); the speech is a US government work")
JFK_PHRASES = ("my fellow americans", "your country", "do for you")  # tests/test_transcribe.py


def whisper_transcription(metric, paths: dict[str, Path]) -> dict[str, str]:
    """jfk.flac mixed to mono and resampled to 16 kHz, transcribed in English by the backend's
    own decoding (one 30 s window, greedy)."""
    import soundfile as sf

    from harmony_bench.media import resample

    audio, rate = sf.read(paths[JFK.name], dtype="float32", always_2d=True)
    text = metric.transcribe(resample(audio.mean(axis=1), rate, 16_000), "en")
    return {f"contains '{p}'": text for p in JFK_PHRASES}


# -- ImageBind: the README's three softmax matrices on .assets/ ------------------------------------
IMAGEBIND = ("facebookresearch/ImageBind", "53680b02d7e37b19b124fa37bae4b6c98c38f5be")
IB_LICENCE = "CC-BY-NC-SA-4.0 (facebookresearch/ImageBind repository licence)"
IB_IMAGES = tuple(_input("imagebind", *IMAGEBIND, f".assets/{n}", sha, size, IB_LICENCE) for n, sha, size in (
    ("dog_image.jpg", "c11d7d454d9db85a6ebd765ddb8eff30c6d0088c3cd14e7fdc74548a474d36d1", 86_102),
    ("car_image.jpg", "45d920dfe748a66d513796600564f691240c2b00c8da4316c45d29e11ce067b2", 59_333),
    ("bird_image.jpg", "1d9d891f7785a0a7b85556f5c8e7bedd82edce78b46b7f55a569f4b2f3e9e5d1", 114_755)))
IB_AUDIO = tuple(_input("imagebind", *IMAGEBIND, f".assets/{n}", sha, size, IB_LICENCE) for n, sha, size in (
    ("dog_audio.wav", "2b4dca689971840c140e4d206ad43dc35ecf7c2c1b661f478268bc6de9ad50b3", 460_518),
    ("car_audio.wav", "79e2335cf1fa4b0a6be7d2a93007f630acd89e178405ae2fabf45ee3af801fda", 441_044),
    ("bird_audio.wav", "c8b0c17e3b8b3e5b1324d83a8f598ac9129998877b697d32c194b2a1fe11681a", 882_078)))
IB_TEXTS = ("A dog.", "A car", "A bird")
# README.md "Expected output", rows = first modality (dog, car, bird), columns = second
IB_MATRICES = {
    "vision x text": ((9.9761e-01, 2.3694e-03, 1.8612e-05), (3.3836e-05, 9.9994e-01, 2.4118e-05),
                      (4.7997e-05, 1.3496e-02, 9.8646e-01)),
    "audio x text": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "vision x audio": ((0.8070, 0.1088, 0.0842), (0.1036, 0.7884, 0.1079), (0.0018, 0.0022, 0.9960)),
}
IB_ATOL = 5e-3  # chosen here: the README prints no tolerance, and its values carry 4 decimals


def _ib_expected() -> tuple[Expected, ...]:
    return tuple(Expected(f"{name} [{i},{j}]", v, IB_ATOL) for name, rows in IB_MATRICES.items()
                 for i, row in enumerate(rows) for j, v in enumerate(row))


def _ib_vision(path: Path):
    """ImageBind data.load_and_transform_vision_data: short side 224 bicubic (PIL), centre crop,
    CLIP mean/std."""
    from PIL import Image
    from torchvision import transforms

    from harmony_bench.metrics.audio.imagebind import CLIP_MEAN, CLIP_STD, IMAGE_SIZE

    tf = transforms.Compose([transforms.Resize(IMAGE_SIZE, interpolation=transforms.InterpolationMode.BICUBIC),
                             transforms.CenterCrop(IMAGE_SIZE), transforms.ToTensor(),
                             transforms.Normalize(CLIP_MEAN, CLIP_STD)])
    return tf(Image.open(path).convert("RGB"))


def _ib_audio(path: Path):
    """ImageBind data.load_and_transform_audio_data: resampled to 16 kHz, three 2 s clips, fbank
    of the first channel (Kaldi fbank reads channel 0; its per-frame DC removal makes the
    reference's mean over both channels immaterial)."""
    import soundfile as sf

    from harmony_bench.media import resample
    from harmony_bench.metrics.audio.imagebind import SAMPLE_RATE, audio_input

    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    return audio_input(resample(audio, rate, SAMPLE_RATE)[:, 0])


def imagebind_matrices(metric, paths: dict[str, Path]) -> dict[str, float]:
    import torch

    with torch.inference_mode():
        vision = metric.model({"vision": torch.stack([_ib_vision(paths[wf.name]) for wf in IB_IMAGES])
                               .to(metric.device)})["vision"]
        audio = metric.model({"audio": torch.stack([_ib_audio(paths[wf.name]) for wf in IB_AUDIO])
                              .to(metric.device)})["audio"]
        text = metric.model({"text": torch.stack([metric.tokenizer(t) for t in IB_TEXTS]).to(metric.device)})["text"]
    pairs = {"vision x text": (vision, text), "audio x text": (audio, text), "vision x audio": (vision, audio)}
    out = {}
    for name, (a, b) in pairs.items():
        probs = torch.softmax(a @ b.T, dim=-1).cpu().numpy()
        out.update({f"{name} [{i},{j}]": float(probs[i, j]) for i in range(3) for j in range(3)})
    return out


# -- SyncNet: syncnet_python's demo clip -----------------------------------------------------------
def _face_crop_video(path: Path) -> None:
    """The format check of a file with no published hash: a video of 224 x 224 frames (what
    demo_syncnet.py feeds the lip network as they are) with an audio track."""
    import av

    try:
        with av.open(str(path)) as container:
            video, audio = container.streams.video, container.streams.audio
            size = (video[0].codec_context.width, video[0].codec_context.height) if video else None
    except (av.error.FFmpegError, OSError) as exc:
        raise ValueError(f"not a readable video ({exc})") from exc
    if size != (224, 224) or not audio:
        raise ValueError(f"expected 224 x 224 frames and an audio track, got frames {size}, "
                         f"{len(audio)} audio track(s)")


SYNCNET_EXAMPLE = WeightFile(
    name=f"{FOLDER}/syncnet/example.avi", sha256=None,
    source="http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/example.avi (joonson/syncnet_python "
           "6efbb1c download_model.sh)",
    licence="not stated (Oxford VGG download fetched by syncnet_python's MIT-licensed script)",
    url="http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/example.avi",
    check_format=_face_crop_video,
    note="a 224 x 224 face-crop video with audio; no hash published: checked for that format only")
SYNCNET_ATOL = 0.05  # chosen here: the README prints 3 decimals and no tolerance


def syncnet_demo(metric, paths: dict[str, Path]) -> dict[str, float]:
    """demo_syncnet.py: the whole frame is the face crop (no detection), audio 16 kHz mono, offsets
    -15..15 frames. syncnet_python prints the offset with the opposite sign to this suite's."""
    from harmony_bench.media import read_clip
    from harmony_bench.metrics.sync.mfcc import to_int16_scale
    from harmony_bench.metrics.sync.syncnet import FPS, SAMPLE_RATE

    clip = read_clip(paths[SYNCNET_EXAMPLE.name])
    frames = clip.video_at(FPS)
    search = metric.track_search(frames, to_int16_scale(clip.audio_at(SAMPLE_RATE)), 0)
    return {"AV offset": float(-search.offset), "Min dist": search.min_distance, "Confidence": search.confidence}


# -- Synchformer: the README's two example clips ----------------------------------------------------
SYNCHFORMER = ("v-iashin/Synchformer", "b66668a1521d7567cc760e5544b2b5b53179b687")
SYNCHFORMER_CLIPS = tuple(_input("synchformer", *SYNCHFORMER, f"data/vggsound/h264_video_25fps_256side_16000hz_aac/{n}",
                                 sha, size, "VGGSound clip (YouTube) shipped in v-iashin/Synchformer (MIT code)")
                          for n, sha, size in (
                              ("3qesirWAGt4_20000_30000.mp4",
                               "f6c2a07c9202d151b701de9865a71abf8bed6065b4fa68fc595579be8505815c", 2_312_500),
                              ("ZYc410CE4Rg_0_10000.mp4",
                               "10518460948dc56ffa03b09aefcb0991f78b82fb139b1caddca205837b85f980", 1_318_451)))

# (clip, offset_sec, v_start_i_sec) as the README runs example.py; the audio is offset_sec early
SYNCHFORMER_RUNS = ((SYNCHFORMER_CLIPS[0], 1.6, 0.0), (SYNCHFORMER_CLIPS[1], -2.0, 4.0))
# README.md: the printed (class, p) with av 8.1.0, and the p it says newer PyAV versions give
SYNCHFORMER_PUBLISHED = ((18, 0.8076, 0.9482), (0, 0.8291, 0.7129))
SYNCHFORMER_ATOL = 0.01  # chosen here: the README prints 4 decimals (its run: fp16 autocast on CUDA)


def _synchformer_label(wf: WeightFile, what: str) -> str:
    return f"{Path(wf.name).name.split('_')[0]}: {what}"


def _synchformer_expected() -> tuple[Expected, ...]:
    out = []
    for (wf, _, _), (cls, _, p_new_av) in zip(SYNCHFORMER_RUNS, SYNCHFORMER_PUBLISHED):
        out += [Expected(_synchformer_label(wf, "class"), float(cls)),
                Expected(_synchformer_label(wf, "p"), p_new_av, SYNCHFORMER_ATOL)]
    return tuple(out)


def _synchformer_item(path: Path, offset_sec: float, v_start_i_sec: float):
    """example.py's test transforms on a 25 fps, 256 px, 16 kHz clip: both streams cut to the
    shorter (EqualifyFromRight), a 224 px centre crop, a 5 s crop whose audio starts offset_sec
    later (TemporalCropAndOffset), then 14 segments of 16 frames, step 8, from the middle
    (GenerateMultipleSegments). Returns (segments of uint8 frames, audio from the first segment)."""
    from harmony_bench.media import read_clip
    from harmony_bench.metrics.sync.desync import FPS, SAMPLE_RATE, SEG_FRAMES, SEG_STEP, SIZE, WINDOW_SEGMENTS

    clip = read_clip(path)
    video, audio = clip.video_at(FPS), clip.audio_at(SAMPLE_RATE)
    v_len = int(FPS * min(10, len(audio) / SAMPLE_RATE, len(video) / FPS))
    video, audio = video[:v_len], audio[: (SAMPLE_RATE // FPS) * v_len]
    top, left = (int(round((n - SIZE) / 2.0)) for n in video.shape[1:3])
    video = video[:, top : top + SIZE, left : left + SIZE]
    v0, a0 = int(v_start_i_sec * FPS), int((v_start_i_sec + offset_sec) * SAMPLE_RATE)
    video, audio = video[v0 : v0 + 5 * FPS], audio[a0 : a0 + 5 * SAMPLE_RATE]
    start = (len(video) - int((WINDOW_SEGMENTS * 0.5 + 0.5) * SEG_FRAMES)) // 2
    firsts = [start + i * SEG_STEP for i in range(WINDOW_SEGMENTS)]
    segments = np.stack([video[f : f + SEG_FRAMES] for f in firsts])
    return segments, audio[int(start / FPS * SAMPLE_RATE):]


def synchformer_examples(metric, paths: dict[str, Path]) -> dict[str, float]:
    """The offset class and its softmax probability for the README's two runs."""
    import torch

    from harmony_bench.metrics.sync.desync import WINDOW_SEGMENTS, audio_segments

    out = {}
    for wf, offset_sec, v_start in SYNCHFORMER_RUNS:
        frames, audio = _synchformer_item(paths[wf.name], offset_sec, v_start)
        # RGBToHalfToZeroOne then RGBNormalize(0.5, 0.5): both in float16, as the reference
        x = torch.from_numpy(frames).permute(0, 1, 4, 2, 3).half().div(255.0)
        x = ((x - 0.5) / 0.5).float()
        with torch.inference_mode():
            vfeat = metric.segment_features(metric.model.extract_vfeats, x)
            afeat = metric.segment_features(metric.model.extract_afeats,
                                            audio_segments(audio, list(range(WINDOW_SEGMENTS))))
            probs = torch.softmax(metric.model.compare_v_a(vfeat, afeat).float(), dim=-1)[0]
        cls = int(probs.argmax())
        out[_synchformer_label(wf, "class")] = float(cls)
        out[_synchformer_label(wf, "p")] = float(probs[cls])
    return out


KNOWN_ANSWERS: tuple[KnownAnswer, ...] = (
    KnownAnswer("iq@musiq-spaq", MUSIQ_IMAGES, _musiq_expected(MUSIQ_SPAQ_OFFICIAL),
                f"{PYIQA[0]}@{PYIQA[1][:7]} ResultsCalibra/results_official.csv (row musiq-spaq)",
                "pyiqa's own: atol 1e-2, rtol 3e-2 (tests/test_metric_general.py TOL_DICT)", musiq_scores,
                "official TensorFlow MUSIQ scores; images fed whole, as pyiqa's calibration test does (the "
                "512 px cap of the IQ protocol does not touch these 512 x 384 images)"),
    KnownAnswer("iq@musiq-koniq", MUSIQ_IMAGES, _musiq_expected(MUSIQ_KONIQ_OFFICIAL),
                f"{PYIQA[0]}@{PYIQA[1][:7]} ResultsCalibra/results_official.csv (row musiq)",
                "pyiqa's own: atol 1e-2, rtol 3e-2 (tests/test_metric_general.py TOL_DICT)", musiq_scores),
    KnownAnswer("wer@whisper-large-v3", (JFK,), tuple(Expected(f"contains '{p}'", p) for p in JFK_PHRASES),
                f"{WHISPER[0]}@{WHISPER[1][:7]} tests/test_transcribe.py",
                "the test's: each phrase in the lower-cased transcription", whisper_transcription,
                "the test runs transcribe() with word timestamps; this suite's single-window greedy decoding "
                "is checked instead (the clip is 11 s, one window)"),
    KnownAnswer("ib@imagebind-huge", IB_IMAGES + IB_AUDIO, _ib_expected(),
                f"{IMAGEBIND[0]}@{IMAGEBIND[1][:7]} README.md (Usage, 'Expected output')",
                f"none published; atol {IB_ATOL:g} chosen here (4 printed decimals)", imagebind_matrices,
                "images through ImageBind's own image transform (one centre crop), not the IB protocol's "
                "video frames; audio and text as in the IB protocol"),
    KnownAnswer("syncnet@v2", (SYNCNET_EXAMPLE,),
                (Expected("AV offset", 3.0), Expected("Min dist", 5.353, SYNCNET_ATOL),
                 Expected("Confidence", 10.021, SYNCNET_ATOL)),
                "joonson/syncnet_python@6efbb1c README.md (Demo: 'Check that this script returns')",
                f"none published; the offset exact, atol {SYNCNET_ATOL:g} chosen here (3 printed decimals)",
                syncnet_demo,
                "frames and audio decoded by PyAV (the demo extracts the audio with ffmpeg, frames with OpenCV)"),
    KnownAnswer("desync@synchformer", SYNCHFORMER_CLIPS, _synchformer_expected(),
                f"{SYNCHFORMER[0]}@{SYNCHFORMER[1][:7]} README.md (Examples; checkpoint 24-01-04T16-39-21)",
                f"none published; the class exact, p within {SYNCHFORMER_ATOL:g} (chosen here) of the value the "
                "README gives for PyAV after 8.1 (this suite decodes with PyAV 18)", synchformer_examples,
                "the README's printed p (0.8076, 0.8291) needs PyAV 8.1; example.py's transforms are "
                "reproduced here (5 s crop with the offset, 224 px centre crop, 14 middle segments), not "
                "the DeSync protocol's windows; float32 network where example.py autocasts to fp16 on CUDA"),
)


def known_answer_files(keys: list[str] | None = None) -> list[WeightFile]:
    """The input files of the named backends' checks (default: all), once each, for
    `weights fetch --known-answers`."""
    chosen = [a for a in KNOWN_ANSWERS if not keys or a.metric in keys]
    return list({wf.name: wf for answer in chosen for wf in answer.inputs}.values())


def check(answer: KnownAnswer, device: str = "cpu") -> CheckResult:
    """Run one backend on its publisher's input and compare; never raises for a missing piece."""
    from harmony_bench.metrics.base import MetricUnavailable, NotScorable
    from harmony_bench.metrics.registry import get_metric

    result = CheckResult(answer.metric, "cannot run", source=answer.source, tolerance=answer.tolerance,
                         note=answer.note)
    metric = get_metric(answer.metric)(device)
    reason = metric.availability()
    if reason:
        result.verdict = "no weights" if reason.startswith("weights") else "cannot run"
        result.reason = reason
        return result
    try:
        paths = {wf.name: resolve(wf)[0] for wf in answer.inputs}
    except (WeightsMissing, WeightsMismatch) as exc:
        result.verdict, result.reason = "inputs missing", str(exc)
        return result
    try:
        metric.setup()
        result.weights = metric.weights_sha256
        got = answer.compute(metric, paths)
    except (MetricUnavailable, NotScorable, WeightsMismatch, ValueError, RuntimeError, OSError) as exc:
        result.reason = f"{type(exc).__name__}: {exc}"
        return result
    result.comparisons = [Comparison(e.label, e.value, got.get(e.label), e.label in got and e.holds(got[e.label]))
                          for e in answer.expected]
    result.verdict = "pass" if all(c.ok for c in result.comparisons) else "FAIL"
    return result


def check_all(keys: Iterable[str] | None = None, answers: Sequence[KnownAnswer] | None = None,
              device: str = "cpu") -> list[CheckResult]:
    """One result per official backend (or per key asked for): its check, or why there is none."""
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

    by_key = {a.metric: a for a in (KNOWN_ANSWERS if answers is None else answers)}
    keys = list(keys) if keys else [k for k in all_metric_keys() if get_metric(k).official or k in by_key]
    results = []
    for key in keys:
        if key in by_key:
            results.append(check(by_key[key], device))
        else:
            card = get_metric(key).card.known_answer
            verdict = "not checked here" if card.startswith("published") else "no published known answer"
            results.append(CheckResult(key, verdict, card or "the protocol card says nothing"))
    return results


def _shown(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return f"{value:.6g}"


FIXES = {"no weights": "harmony-bench weights fetch {key}",
         "inputs missing": "harmony-bench weights fetch --known-answers"}


def report_lines(results: Sequence[CheckResult], width: int = 100) -> list[str]:
    """What `weights check` prints: per backend its verdict and why, then expected, got and ok per value."""
    import textwrap

    def wrapped(text: str) -> list[str]:
        return textwrap.wrap(text, width, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False)

    lines = []
    for r in results:
        why = f": {r.reason}" if r.reason and not r.comparisons else ""
        lines += [""] + wrapped(f"{r.metric}: {r.verdict}{why}")
        if r.verdict in FIXES:
            lines.append(f"  to fix: {FIXES[r.verdict].format(key=r.metric)}")
        for label, text in (("published in", r.source), ("tolerance:", r.tolerance), ("note:", r.note),
                            ("weights:", r.weights)):
            if text and (r.comparisons or label == "published in"):
                lines += wrapped(f"  {label} {text}")
        for c in r.comparisons:
            lines.append(f"  {c.label}: expected {_shown(c.expected)}, got {_shown(c.got)}  {'ok' if c.ok else 'FAIL'}")
    return lines
