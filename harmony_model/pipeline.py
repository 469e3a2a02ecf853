"""Sampling: joint generation, audio-driven video, video-driven audio, voice cloning (section 3.4).

Each Euler step runs every pass the guidance needs as one batched forward:
- positive: the current state (a given modality sits clean, at sigma 0);
- sync (Eq. 9-10): video negative = audio-driven prediction given the codec's encoding of silence
  as clean audio; audio negative = video-driven prediction given a static clean video (the
  reference frame repeated). Both negatives keep the text conditions (the paper does not say);
- text (Eq. 8): the same state with empty captions and transcript;
- both: sync + (s_text - 1) (positive - unconditional), so s_text = 1 is sync alone.

Several requests of one duration are generated as one batch: each draws its noise from its own
seeded generator, so a clip does not depend on the requests beside it, and the passes of every
request go through one forward per step (batched and one-by-one clips differ only by float
rounding; tests/harmony_model/test_pipeline.py states how much).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from harmony_model.codecs import AudioCodec, VideoCodec
from harmony_model.config import SampleConfig
from harmony_model.flow import FlowMatchEulerSampler, guide
from harmony_model.model import AVOutput, Conditions, HarmonyModel


@dataclass
class GenerationRequest:
    video_caption: str
    audio_caption: str = ""
    transcript: str = ""
    ref_image: np.ndarray | None = None  # (H, W, 3) uint8; mid-grey when absent
    ref_audio: np.ndarray | None = None  # (N,) float at the codec rate: the voice to clone
    duration: float = 5.0
    audio: np.ndarray | None = None  # given audio -> audio-driven video
    video: np.ndarray | None = None  # given (F, H, W, 3) uint8 frames -> video-driven audio


@dataclass
class GeneratedAV:
    frames: np.ndarray  # (F, H, W, 3) uint8
    audio: np.ndarray  # (N,) float32
    fps: float
    sample_rate: int


@dataclass
class State:
    """Latents being denoised plus everything fixed during sampling (a batch of requests)."""

    video: torch.Tensor
    audio: torch.Tensor
    ref_audio: torch.Tensor
    cond: Conditions
    null_cond: Conditions
    muted_audio: torch.Tensor  # clean latent of silence (SyncCFG video negative)
    static_video: torch.Tensor  # clean latent of the reference frame repeated (audio negative)
    video_given: bool
    audio_given: bool


def guided_velocity(model: HarmonyModel, st: State, sigma: float, sample: SampleConfig) -> AVOutput:
    """One batched forward over the passes of `sample.guidance`, combined by Eq. 8-10."""
    b, dev = st.video.shape[0], st.video.device
    s_v = torch.full((b,), 0.0 if st.video_given else sigma, device=dev)
    s_a = torch.full((b,), 0.0 if st.audio_given else sigma, device=dev)
    zero = torch.zeros(b, device=dev)
    passes = {"positive": (st.video, st.audio, s_v, s_a, st.cond)}
    if sample.guidance in ("sync", "both"):
        if not st.video_given:
            passes["video_negative"] = (st.video, st.muted_audio, s_v, zero, st.cond)
        if not st.audio_given:
            passes["audio_negative"] = (st.static_video, st.audio, zero, s_a, st.cond)
    if sample.guidance in ("text", "both"):
        passes["unconditional"] = (st.video, st.audio, s_v, s_a, st.null_cond)
    names = list(passes)
    columns = list(zip(*passes.values()))
    out = model(torch.cat(columns[0]), torch.cat(columns[1]), st.ref_audio.repeat(len(names), 1, 1),
                torch.cat(columns[2]), torch.cat(columns[3]), Conditions.cat(list(columns[4])))
    pred = {n: AVOutput(v, a) for n, v, a in zip(names, out.video.split(b), out.audio.split(b))}
    return combine(pred, sample)


def combine(pred: dict[str, AVOutput], sample: SampleConfig) -> AVOutput:
    pos = pred["positive"]
    video, audio = pos.video, pos.audio
    if "video_negative" in pred:
        video = guide(pos.video, pred["video_negative"].video, sample.s_v)  # Eq. 9
    if "audio_negative" in pred:
        audio = guide(pos.audio, pred["audio_negative"].audio, sample.s_a)  # Eq. 10
    if "unconditional" in pred:
        unc = pred["unconditional"]
        if sample.guidance == "text":
            video, audio = guide(pos.video, unc.video, sample.s_text), guide(pos.audio, unc.audio, sample.s_text)
        else:
            video = video + (sample.s_text - 1) * (pos.video - unc.video)
            audio = audio + (sample.s_text - 1) * (pos.audio - unc.audio)
    return AVOutput(video, audio)


@torch.no_grad()
def denoise(model: HarmonyModel, st: State, sample: SampleConfig) -> State:
    """Euler integration over the shifted sigmas; the reference frame is held clean throughout."""
    sampler = FlowMatchEulerSampler(sample.shift)
    sigmas = sampler.sigmas(sample.steps).tolist()
    ref_frame = st.video[:, :, :1].clone()
    video, audio = st.video, st.audio
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        vel = guided_velocity(model, replace(st, video=video, audio=audio), sigma, sample)
        if not st.video_given:
            video = sampler.step(vel.video, video, sigma, sigma_next)
            video[:, :, :1] = ref_frame
        if not st.audio_given:
            audio = sampler.step(vel.audio, audio, sigma, sigma_next)
    return replace(st, video=video, audio=audio)


def stack_states(states: list[State]) -> State:
    """The states of several requests as one batch (same latent shapes and the same task)."""
    first = states[0]
    for st in states[1:]:
        if (st.video_given, st.audio_given) != (first.video_given, first.audio_given):
            raise ValueError("a batch mixes tasks: generate joint, audio-driven and video-driven requests apart")
        if st.video.shape[1:] != first.video.shape[1:] or st.audio.shape[1:] != first.audio.shape[1:]:
            raise ValueError("a batch mixes durations: group requests by duration")
    tensors = {name: torch.cat([getattr(st, name) for st in states])
               for name in ("video", "audio", "ref_audio", "muted_audio", "static_video")}
    return State(**tensors, cond=Conditions.cat([st.cond for st in states]),
                 null_cond=Conditions.cat([st.null_cond for st in states]),
                 video_given=first.video_given, audio_given=first.audio_given)


class HarmonyPipeline:
    def __init__(self, model: HarmonyModel, video_codec: VideoCodec, audio_codec: AudioCodec):
        self.model, self.video_codec, self.audio_codec = model.eval(), video_codec, audio_codec
        self.cfg = model.cfg

    @classmethod
    def from_pretrained(cls, folder, device: str = "cpu") -> "HarmonyPipeline":
        from harmony_model.pretrained import build_codecs

        model = HarmonyModel.from_pretrained(folder, device)
        return cls(model, *build_codecs(model.cfg.codec))

    def generate(self, request: GenerationRequest, seed: int, sample: SampleConfig | None = None) -> GeneratedAV:
        """Seeded, deterministic on CPU. Pass `sample` to override the config's sampling settings."""
        return self.generate_batch([request], [seed], sample)[0]

    def generate_batch(self, requests: list[GenerationRequest], seeds: list[int],
                       sample: SampleConfig | None = None) -> list[GeneratedAV]:
        """One clip per (request, seed), denoised together. The requests must share a duration
        and a task (which modalities are given); request i draws its noise from `seeds[i]` alone."""
        if len(requests) != len(seeds) or not requests:
            raise ValueError(f"generate_batch needs one seed per request, got {len(requests)} and {len(seeds)}")
        sample = sample or self.cfg.sample
        st = stack_states([self.prepare(r, torch.Generator().manual_seed(s)) for r, s in zip(requests, seeds)])
        st = denoise(self.model, st, sample)
        frames = self.video_codec.decode(st.video)  # (B, F, 3, H, W)
        waves = self.audio_codec.decode(st.audio).float().cpu().numpy()
        frames_u8 = ((frames.permute(0, 1, 3, 4, 2).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
        return [GeneratedAV(f, w, self.cfg.codec.fps, self.audio_codec.sample_rate) for f, w in zip(frames_u8, waves)]

    def prepare(self, req: GenerationRequest, generator: torch.Generator) -> State:
        c = self.cfg.codec
        n_frames = max(2, int(round(req.duration * c.fps)))
        n_samples = int(round(req.duration * c.sample_rate))
        ref = self._frame_tensor(req.ref_image)  # (1, 3, H, W)
        static = self.video_codec.encode(ref[:, None].expand(-1, n_frames, -1, -1, -1))
        muted = self.audio_codec.encode(torch.zeros(1, n_samples))
        video = torch.randn(static.shape, generator=generator)
        video[:, :, :1] = static[:, :, :1]
        audio = torch.randn(muted.shape, generator=generator)
        if req.video is not None:
            video = self.video_codec.encode(self._frames_tensor(req.video, n_frames))
        if req.audio is not None:
            audio = self.audio_codec.encode(self._wave_tensor(req.audio, n_samples))
        ref_audio = self._wave_tensor(req.ref_audio, int(c.ref_audio_seconds * c.sample_rate))
        cond = self.model.encode_conditions([req.video_caption], [req.audio_caption], [req.transcript])
        null = self.model.encode_conditions([""], [""], [""])
        dev = self.model.device
        return State(video.to(dev), audio.to(dev), self.audio_codec.encode(ref_audio).to(dev), cond, null,
                     muted.to(dev), static.to(dev), req.video is not None, req.audio is not None)

    def _frame_tensor(self, image: np.ndarray | None) -> torch.Tensor:
        c = self.cfg.codec
        if image is None:
            return torch.zeros(1, 3, c.height, c.width)
        x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 127.5 - 1
        return F.interpolate(x, size=(c.height, c.width), mode="area")

    def _frames_tensor(self, frames: np.ndarray, n_frames: int) -> torch.Tensor:
        x = torch.cat([self._frame_tensor(f) for f in frames[:n_frames]])
        if x.shape[0] < n_frames:
            x = torch.cat([x, x[-1:].expand(n_frames - x.shape[0], -1, -1, -1)])
        return x[None]

    @staticmethod
    def _wave_tensor(wave: np.ndarray | None, n_samples: int) -> torch.Tensor:
        """(1, n_samples): cut or zero-padded; silence when absent."""
        out = torch.zeros(1, n_samples)
        if wave is not None:
            w = torch.from_numpy(np.asarray(wave, dtype=np.float32).reshape(-1))[:n_samples]
            out[0, : w.shape[0]] = w
        return out
