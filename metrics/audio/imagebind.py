"""IB-A (audio vs its text prompt) and IB (audio vs video): cosine similarities of ImageBind-Huge
embeddings. One audio pass per clip serves both numbers.

Preprocessing is re-implemented here (and tested) after ImageBind's own loaders:
- audio (imagebind.data.load_and_transform_audio_data): 16 kHz mono; three 2 s clips whose starts
  are k * max(duration - 2, 0) / 3 for k = 0, 1, 2 (pytorchvideo's ConstantClipsPerVideoSampler);
  each clip minus its mean, in place on the shared track as data.py does (a clip overlapping an
  earlier one starts from samples that already lost that clip's mean), Kaldi fbank (128 mel bins,
  25 ms Hann window, 10 ms shift, HTK compatible, no dither), cut or zero-padded to 204 frames,
  then (x - (-4.268)) / 9.138; the model averages the three clip embeddings.
- text: ImageBind's BPE tokenizer, 77 tokens.
- video (av-benchmark 050a5cd, av_bench/data/video_dataset.py + extract_video.py): frames at
  0.5 fps, short side resized to 224 on the uint8 frames (torchvision v2 bicubic, antialiased, so
  rounded back to uint8), /255, CLIP mean/std, then three 224 crops (ImageBind's SpatialCrop(224,
  num_crops=3): left, centre, right of a landscape frame, centre offset rounded up); every pair of
  consecutive frames in every crop is one 2-frame clip, and the model averages the embeddings of
  all pairs x crops (ImageBindModel reshapes (B, S, ...) to B*S and means the normalised outputs).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.audio.checkpoints import architecture_override
from harmony_bench.metrics.base import Batching, Metric, NotScorable, Output, ProtocolCard, Score, WeightFile
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.video.frames import batches

SAMPLE_RATE = 16_000
AUDIO_CLIP_SECONDS = 2
AUDIO_CLIPS = 3
MEL_BINS = 128
TARGET_FRAMES = 204
FBANK_MEAN, FBANK_STD = -4.268, 9.138  # ImageBind's audio normalisation (data.py defaults)
MIN_AUDIO_SAMPLES = 400  # one 25 ms fbank frame at 16 kHz
VIDEO_FPS = 0.5  # av-benchmark's ImageBind frame rate
IMAGE_SIZE = 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# ImageBind-Huge as imagebind_model.imagebind_huge() builds it
HUGE = dict(vision_embed_dim=1280, vision_num_blocks=32, vision_num_heads=16, text_embed_dim=1024,
            text_num_blocks=24, text_num_heads=16, out_embed_dim=1024, audio_drop_path=0.1, imu_drop_path=0.7)
ARCH_SETTINGS = {k: int for k in (
    "out_embed_dim", "vision_embed_dim", "vision_num_blocks", "vision_num_heads", "audio_embed_dim",
    "audio_num_blocks", "audio_num_heads", "text_embed_dim", "text_num_blocks", "text_num_heads",
    "depth_embed_dim", "depth_num_blocks", "depth_num_heads", "thermal_embed_dim", "thermal_num_blocks",
    "thermal_num_heads", "imu_embed_dim", "imu_num_blocks", "imu_num_heads")}

IMAGEBIND_HUGE = WeightFile(
    name="imagebind/imagebind_huge.pth",
    sha256="d6f6c22bedcc90708448d5d2fbb7b2db9c73f505dc89bd0b2e09b23af1b62157", size_bytes=4_803_584_173,
    source="https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth", licence="CC-BY-NC-4.0",
    url="https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth",
    hash_source="Meta publishes none; the git-LFS pointers of three independent Hugging Face copies of the "
                "file (DAMO-NLP-SG/Video-LLaMA-2-7B-Pretrained, -13B-Pretrained, vdo/Video-LLaMA-Series) agree",
    note="a bare state dict of float32 tensors (torch.save of model.state_dict()), about 4.8 GB")


# -- preprocessing ---------------------------------------------------------------------------
def audio_clip_spans(num_samples: int, sample_rate: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """(first, end) sample of each 2 s clip; ends may pass the audio's end (the clip is then shorter)."""
    duration = Fraction(num_samples / sample_rate)  # exact value of the float, as pytorchvideo sees it
    step = Fraction(max(duration - AUDIO_CLIP_SECONDS, 0)) / AUDIO_CLIPS
    return [(int(step * k * sample_rate), int((step * k + AUDIO_CLIP_SECONDS) * sample_rate))
            for k in range(AUDIO_CLIPS)]


def fbank(waveform: np.ndarray, sample_rate: int = SAMPLE_RATE):
    """Normalised (1, 128, 204) log-mel filterbank of one mono clip, its mean removed first."""
    import torch

    x = torch.tensor(waveform, dtype=torch.float32)[None]
    return _melspec(x - x.mean(), sample_rate)


def _melspec(x, sample_rate: int = SAMPLE_RATE):
    """Normalised (1, 128, 204) log-mel filterbank of a (1, N) tensor whose mean is removed."""
    import torch.nn.functional as F
    from torchaudio.compliance import kaldi

    mel = kaldi.fbank(x, htk_compat=True, sample_frequency=sample_rate, use_energy=False,
                      window_type="hanning", num_mel_bins=MEL_BINS, dither=0.0, frame_length=25,
                      frame_shift=10).T  # (mel bins, frames)
    mel = F.pad(mel, (0, TARGET_FRAMES - mel.shape[1])) if mel.shape[1] < TARGET_FRAMES else mel[:, :TARGET_FRAMES]
    return ((mel - FBANK_MEAN) / FBANK_STD)[None]


def audio_input(audio: np.ndarray):
    """(3, 1, 128, 204) model input from 16 kHz mono audio."""
    import torch

    if audio.shape[0] < MIN_AUDIO_SAMPLES:
        raise NotScorable(f"audio shorter than one 25 ms fbank frame ({audio.shape[0]} samples at 16 kHz)")
    # ImageBind's waveform2melspec runs `waveform -= waveform.mean()` on a view of the whole track,
    # so each clip's mean leaves the samples the next, overlapping clips read: done alike, in order.
    track = torch.tensor(audio, dtype=torch.float32)[None]
    clips = []
    for a, b in audio_clip_spans(audio.shape[0]):
        view = track[:, a:b]
        view -= view.mean()
        clips.append(_melspec(view))
    return torch.stack(clips)


def crop_offsets(height: int, width: int, size: int = IMAGE_SIZE) -> list[tuple[int, int]]:
    """(top, left) of the three spatial crops: left, centre, right of a landscape frame (top, centre,
    bottom of a portrait one), the centre rounded up, as ImageBind's `uniform_crop`."""
    top, left = math.ceil((height - size) / 2), math.ceil((width - size) / 2)
    if height > width:
        return [(0, left), (top, left), (height - size, left)]
    return [(top, 0), (top, left), (top, width - size)]


def video_input(frames: np.ndarray):
    """(pairs * 3, 3, 2, 224, 224) model input from (T, H, W, 3) uint8 frames already at 0.5 fps:
    every consecutive frame pair in each of the three spatial crops."""
    import torch
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2.functional import resize

    if frames.shape[0] < 2:
        raise NotScorable(f"IB needs 2 frames at {VIDEO_FPS} fps (a clip of at least 4 s), got {frames.shape[0]}")
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    # on uint8, as av-benchmark's v2.Resize sees the decoded frames: the result is rounded to uint8
    x = resize(x, [IMAGE_SIZE], interpolation=InterpolationMode.BICUBIC, antialias=True).float() / 255.0
    x = (x - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None]
    crops = [x[:, :, t : t + IMAGE_SIZE, l : l + IMAGE_SIZE] for t, l in crop_offsets(*x.shape[-2:])]
    return torch.stack([c[i : i + 2].permute(1, 0, 2, 3) for c in crops for i in range(x.shape[0] - 1)])


def caption_for_ib_a(case: Case) -> tuple[str, str]:
    """(field, text) the audio is compared with: the audio caption, or for speech cases (which have
    none) the video caption, a minimal description of the speaker such as "a man is speaking"."""
    if case.audio_caption:
        return "audio_caption", case.audio_caption
    if case.video_caption:
        return "video_caption", case.video_caption
    raise NotScorable("case has neither an audio caption nor a video caption for IB-A")


# -- model -----------------------------------------------------------------------------------
def _imagebind_modules():
    """imagebind.models without running imagebind/__init__.py, which imports imagebind.data and with
    it pkg_resources and pytorchvideo (absent or broken on current setuptools / torchvision)."""
    if "imagebind" not in sys.modules:
        # the package module, created from its spec but never executed
        sys.modules["imagebind"] = importlib.util.module_from_spec(importlib.util.find_spec("imagebind"))
    from imagebind.models import imagebind_model
    from imagebind.models.multimodal_preprocessors import SimpleTokenizer

    bpe = Path(sys.modules["imagebind"].__path__[0]) / "bpe" / "bpe_simple_vocab_16e6.txt.gz"
    return imagebind_model.ImageBindModel, SimpleTokenizer(bpe_path=str(bpe))


def load_imagebind(path: Path, device: str = "cpu"):
    """(model, tokenizer, override id) from a bare ImageBind state dict (weights_only=True)."""
    import torch

    model_cls, tokenizer = _imagebind_modules()
    settings, override_id = architecture_override(path, ARCH_SETTINGS)
    model = model_cls(**(settings or HUGE))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: not a PyTorch state dict ({type(exc).__name__}: {exc})") from exc
    model.load_state_dict(state)
    return model.to(device).eval(), tokenizer, override_id


def cosine(a, b) -> float:
    import torch.nn.functional as F

    return float(F.cosine_similarity(a.float(), b.float(), dim=-1).item())


@register("ib@imagebind-huge")
class ImageBindScores(Metric):
    key = "ib@imagebind-huge"
    family = "IB"
    backend = "imagebind-huge"
    official = True
    version = "3"  # v3: clip means removed in place, as ImageBind's loader; v2: three crops, uint8 resize
    outputs = (Output("IB-A", "higher"), Output("IB", "higher"))
    needs = ("audio@16kHz mono", "frames@0.5fps", "audio_caption (video_caption for speech cases)")
    weights = (IMAGEBIND_HUGE,)
    packages = ("imagebind", "einops", "ftfy", "regex", "iopath", "timm")
    extra = "audio"
    batching = Batching("2 s audio clip or 2-frame video clip", cpu=8, cuda=64)
    card = ProtocolCard(
        model="ImageBind-Huge (vision ViT-H 1280/32, text 1024/24, audio 768/12, 1024-d joint space)",
        checkpoint=f"{IMAGEBIND_HUGE.name} from {IMAGEBIND_HUGE.source} (CC-BY-NC-4.0)",
        preprocessing="audio: ImageBind's loader (16 kHz, three 2 s clips, each clip's mean removed in "
                      "place on the shared track as data.py does, so overlapping clips see the earlier "
                      "clips' means removed too; Kaldi fbank 128 x 204, mean -4.268, std 9.138); "
                      "video: av-benchmark's (0.5 fps, short side 224 bicubic antialiased on uint8, "
                      "CLIP mean/std, three spatial crops left/centre/right, "
                      "consecutive frame pairs as 2-frame clips, embeddings averaged over pairs x crops); "
                      "text: ImageBind BPE, 77 tokens",
        formula="IB-A = cos(audio embedding, text embedding); IB = cos(audio embedding, video embedding); "
                "embeddings are the model's clip-averaged outputs; cosine in [-1, 1], not multiplied by 100",
        aggregation="per subset: mean of the clips' values",
        reference="ImageBind data.py (audio, text; facebookresearch/ImageBind); av-benchmark 050a5cd "
                  "av_bench/data/video_dataset.py, ib_data.py SpatialCrop, extract_video.py "
                  "encode_video_with_imagebind (video); av-benchmark's IB score",
        differences="IB-A text: the case's audio_caption; speech cases have none, so their video_caption "
                    "(e.g. 'a man is speaking') is used, and the field used is stored per clip. The paper's "
                    "tables report IB-A on all three subsets without saying which text speech cases use. "
                    "Clips shorter than 4 s (fewer than 2 frames at 0.5 fps) get no number. av-benchmark "
                    "keeps the first int(0.5 x duration_sec) frames (duration_sec 8 by default, so 3 "
                    "pairs); every frame of the clip at 0.5 fps is used here. Frames come from the "
                    "harness's decoder (harmony_bench.media), not torio's StreamingMediaDecoder.",
        precision="float32, as av-benchmark 050a5cd (no autocast)",
        known_answer="published: the vision x text, audio x text and vision x audio softmax matrices for "
                     ".assets/ (three images, sounds, texts), facebookresearch/ImageBind 53680b0 README.md; no tolerance "
                     "published (harmony-bench weights check uses atol 5e-3)",
    )

    def load(self, paths: dict) -> None:
        self.model, self.tokenizer, override_id = load_imagebind(paths[IMAGEBIND_HUGE.name], self.device)
        if override_id:
            self.weights_sha256 += f";{override_id}"

    def score(self, clip: Clip, case: Case) -> Score:
        import torch

        field, text = caption_for_ib_a(case)
        audio, video = audio_input(clip.audio_at(SAMPLE_RATE)), video_input(clip.video_at(VIDEO_FPS))
        with torch.inference_mode():
            emb = {"audio": self.clip_mean("audio", audio), "vision": self.clip_mean("vision", video),
                   "text": self.model({"text": self.tokenizer(text)[None].to(self.device)})["text"]}
        return Score(values={"IB-A": cosine(emb["audio"], emb["text"]), "IB": cosine(emb["audio"], emb["vision"])},
                     details={"ib_a_text_field": field, "video_clips": int(video.shape[0])})

    def clip_mean(self, modality: str, clips):
        """The model's embedding of a clip list (S, ...), `batch_size` clips a forward pass. The
        model averages its normalised per-clip outputs, so the size-weighted mean of the batches'
        averages is that same mean (up to float rounding)."""
        total = 0
        for s in batches(len(clips), self.batch_size):
            total = total + self.model({modality: clips[s][None].to(self.device)})[modality] * (s.stop - s.start)
        return total / len(clips)
