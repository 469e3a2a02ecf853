"""Sync-C / Sync-D: SyncNet v2 confidence and distance (paper C.2, Tables 2-7).

Protocol (syncnet_python's `run_pipeline` + `run_syncnet`): video resampled to 25 fps, audio to
16 kHz mono; faces found by S3FD on every frame (scale 0.25, confidence 0.9), shots cut by
PySceneDetect's ContentDetector, faces tracked by IoU within each shot; each track of more than
`min_track` detections and faces over 100 px cropped to 224 px; for every 5-frame window the lip
embedding is compared with the embedding of the 20 MFCC frames (0.2 s) starting at the same
time, for audio shifted by -15..+15 frames; the distances are averaged over windows:
Sync-D = the minimum over shifts, Sync-C = median - minimum, offset = the argmin shift.
syncnet_python stops at one result per track; a clip's tracks are averaged here (`MULTI_FACE`).
`syncnet@v2-blazeface` is the earlier face stage (mediapipe BlazeFace), kept under its own key.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.weights import WeightFile
from harmony_bench.metrics.base import (SPEECH_SUBSETS, Batching, InputNeeds, Metric, NotScorable, Output, ProtocolCard,
                                        Score)
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.sync import faces
from harmony_bench.metrics.sync.mfcc import mfcc, to_int16_scale
from harmony_bench.metrics.sync.offsets import OffsetSearch, distance_table, search_distances
from harmony_bench.metrics.video.frames import batches

FPS = 25
SAMPLE_RATE = 16000
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 640
MFCC_PER_FRAME = 4  # 100 Hz MFCC / 25 fps
MAX_SHIFT = 15  # frames, syncnet_python --vshift
MIN_TRACK = 100  # detections, syncnet_python --min_track (a track needs more): clips under 4.04 s get none
MIN_FACE_PX = 100  # syncnet_python --min_face_size: mean box width or height, frame pixels
BLAZEFACE_MIN_TRACK = 50  # frames of span (2 s, as Verse-Bench's segments), the BlazeFace variant's rule
BLAZEFACE_MIN_FACE = 0.1  # of the frame's shorter side, the BlazeFace variant's rule
# how a clip's face tracks become one number: "mean" over tracks, or "active": the track with the
# highest Sync-C alone (the active-speaker reading, biased up). syncnet_python has no rule (one
# result per track); Verse-Bench averages time segments of the first face of each frame.
MULTI_FACE = ("mean", "active")
FACE_STAGES = ("s3fd", "blazeface")

SYNCNET_V2 = WeightFile(
    name="syncnet_v2.model",
    sha256="961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442",
    source="http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model (joonson/syncnet_python download_model.sh)",
    licence="MIT (syncnet_python repository licence)",
    size_bytes=54_573_114,
    url="http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
    hash_source="the authors publish none; the git-LFS pointers of the Hugging Face copies in "
                "chunyu-li/LatentSync (auxiliary/) and lithiumice/models_hub_2 agree, as do published "
                "hashes of the Oxford download",
    note="a legacy torch.save state dict (tensors only, __S__ / __L__ layer names)",
)
SFD_FACE = WeightFile(
    name="sfd_face.pth",
    sha256="d54a87c2b7543b64729c9a25eafd188da15fd3f6e02f0ecec76ae1b30d86c491",
    source="https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth (joonson/syncnet_python download_model.sh)",
    licence=("no licence stated for the weights; distributed with syncnet_python (MIT), detector code adapted "
             "from cs-giung/face-detection-pytorch"),
    size_bytes=89_844_381,
    url="https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth",
    hash_source="the authors publish none; independent pins of the Oxford file and its copies agree "
                "(Hugging Face lithiumice/syncnet, modelscope ClearerVoice-Studio's faceDetector/s3fd, "
                "LatentSync auxiliary/ checksum tables)",
    note="S3FD face detector, a plain state dict with syncnet_python's S3FDNet names (vgg.*, L2Norm*, extras.*, loc.*, conf.*)",
)

_REFERENCE_STEPS = (
    ("run_pipeline: ffmpeg re-encode to 25 fps (-qscale:v 2 -r 25), frames written as JPEG",
     "not followed: frames resampled to 25 fps by nearest frame and used as decoded (no second lossy encode)"),
    ("run_pipeline: audio to 16 kHz mono pcm_s16le", "followed: 16 kHz mono, as int16 sample values"),
    ("run_pipeline inference_video: S3FD on every frame, scale 0.25, conf_th 0.9, NMS 0.3 then 0.1",
     "followed: native S3FD port, the published sfd_face.pth (sha256 pinned), same thresholds; its "
     "output held to the reference's on seeded weights (tests/metrics/sync/test_s3fd.py)"),
    ("run_pipeline scene_detect: PySceneDetect ContentDetector (threshold 30, 15-frame scenes, default downscale)",
     "followed: re-implemented from scenedetect 0.5.1 (the version syncnet_python pins) on the RGB frames, "
     "held to that version's ContentDetector on seeded clips (test_s3fd.py); shots shorter than min_track "
     "are skipped, as the reference"),
    ("run_pipeline track_shot: IoU > 0.5 with the last box, 25 missed frames bridged, more than 100 "
     "detections, mean box side > 100 px, linear interpolation of the boxes",
     "followed: held to run_pipeline.py's own track_shot on seeded detection lists (test_s3fd.py); min_track "
     "is a parameter, the reference's 100 leaves clips under 4.04 s unscorable"),
    ("run_pipeline crop_video: median filter 13 on box size and centre, crop scale 0.4, grey 110 pad, 224x224; "
     "crops written as XVID .avi and the track's audio cut with ffmpeg",
     "followed for the geometry (held to crop_video's own crops, test_s3fd.py); crops fed as computed (no XVID "
     "encode) and audio cut by sample index"),
    ("run_syncnet / SyncNetInstance.evaluate: 5-frame windows vs 20 MFCC frames, shifts -15..15, "
     "Sync-D = min of mean distances, Sync-C = median - min",
     "followed (held to a re-implementation of evaluate/calc_pdist on seeded weights, test_syncnet.py)"),
    ("run_syncnet: one result per face track, no clip-level aggregation",
     "ours: the unweighted mean over the clip's tracks (Verse-Bench 5645a09 instead averages time "
     "segments of the first face in each frame; see benchmarks/results/syncnet_multi_face.txt)"),
)
# where the BlazeFace variant departs from the steps above (by index)
_BLAZEFACE_STEPS = {
    2: "not followed: mediapipe BlazeFace short-range, confidence 0.5",
    3: "not followed: no scene cuts",
    4: f"not followed: a span of at least {BLAZEFACE_MIN_TRACK} frames, faces over 10% of the short side",
}


@register("syncnet@v2")
class SyncNetMetric(Metric):
    key = "syncnet@v2"
    family = "Sync"
    backend = "syncnet-v2"
    official = True
    # v3: syncnet_python's face stage (S3FD, scene cuts, its track rule); v2: BlazeFace (now
    # syncnet@v2-blazeface), tracks averaged; v1: the best track's values
    version = "3"
    outputs = (
        Output("Sync-C", "higher"),
        Output("Sync-D", "lower"),
        Output("Sync-offset", "lower", paper=False),  # |offset| in 25 fps frames; signed in details
    )
    subsets = SPEECH_SUBSETS
    requires = InputNeeds(sound=True, motion=True, picture=True)  # an offset needs speech and a face that moves
    needs = ("frames@25fps", "audio@16kHz mono")
    weights = (SYNCNET_V2, SFD_FACE)
    packages = ()  # S3FD and the crop need only opencv and scipy (core dependencies)
    batching = Batching("5-frame window (with its 0.2 s of MFCC)", cpu=32, cuda=256)
    card = ProtocolCard(
        model="SyncNet v2 (Chung & Zisserman 2016) and S3FD (Zhang et al. 2017), native PyTorch with syncnet_python's layer names",
        checkpoint="syncnet_v2.model and sfd_face.pth (the official state dicts, loaded with weights_only=True)",
        preprocessing=("25 fps (nearest frame), 16 kHz mono; faces: S3FD on every frame (frame scaled by 0.25, "
                       "confidence > 0.9), shots cut by PySceneDetect 0.5.1's ContentDetector, greedy IoU>0.5 tracks "
                       f"allowing 25 missed frames within each shot, tracks of more than {MIN_TRACK} detections and "
                       f"a mean box side over {MIN_FACE_PX} px kept; syncnet_python crop (median-filtered box, crop "
                       "scale 0.4, grey pad) to 224 px, BGR 0-255; audio as int16 values, MFCC 13 x 100 Hz "
                       "(python_speech_features recipe)"),
        formula=("per 5-frame window i and shift L in [-15, 15]: d(i, L) = ||v_i - a_{i+L} + 1e-6|| with zero audio "
                 "embeddings outside the track; D(L) = mean_i d(i, L); Sync-D = min_L D; Sync-C = median_L D - "
                 "min_L D; offset = argmin_L (L > 0: audio late, the negative of syncnet_python's printed offset)"),
        aggregation=("per clip: the unweighted mean of Sync-C, Sync-D and |offset| over the face tracks (every track "
                     "in details); ours: syncnet_python reports each track and aggregates nothing, Verse-Bench "
                     "5645a09 (SyncnetInferencer.crop_face/infer) averages time segments of the first face detected "
                     "in each frame, so a silent face present all along lowers this mean and not Verse-Bench's; "
                     "SyncNetMetric(multi_face='active') keeps only the track with the highest Sync-C, which biases "
                     "Sync-C up; per subset: mean over clips"),
        reference=("joonson/syncnet_python 6efbb1c (run_pipeline.py: inference_video, scene_detect, track_shot, "
                   "crop_video; detectors/s3fd; SyncNetInstance.evaluate)"),
        differences=("no ffmpeg re-encode of the video (-qscale:v 2 -r 25), of the frames (JPEG) or of each face crop "
                     "(XVID): frames are resampled to 25 fps by nearest frame and crops fed as computed, which removes "
                     "lossy compressions the reference applies; scene cuts re-implemented, not PySceneDetect itself; "
                     "clips with no track of more than min_track detections are unscorable (the reference's 100 "
                     "needs clips of at least 4.04 s); the clip value is a mean over tracks (the reference has none)"),
        precision="float32 networks, as syncnet_python; the embeddings are compared in float64",
        known_answer=("published: AV offset 3, min dist 5.353, confidence 10.021 for data/example.avi (fetched by download_model.sh), joonson/syncnet_python 6efbb1c README.md; no hash of the clip published "
                      "(harmony-bench weights check runs the offset search on its frames)"),
        steps=_REFERENCE_STEPS,
    )

    def __init__(self, device: str = "cpu", min_track: int | None = None, multi_face: str = "mean",
                 face_stage: str = "s3fd"):
        super().__init__(device)
        if multi_face not in MULTI_FACE:
            raise ValueError(f"multi_face must be one of {', '.join(MULTI_FACE)}, got {multi_face!r}")
        if face_stage not in FACE_STAGES:
            raise ValueError(f"face_stage must be one of {', '.join(FACE_STAGES)}, got {face_stage!r}")
        self.face_stage = face_stage
        default = MIN_TRACK if face_stage == "s3fd" else BLAZEFACE_MIN_TRACK
        self.min_track = default if min_track is None else min_track
        self.multi_face = multi_face
        self.model = None
        self.detector = None

    def load(self, paths: dict) -> None:
        from harmony_bench.metrics.sync.s3fd import load_s3fd
        from harmony_bench.metrics.sync.syncnet_model import load_syncnet

        self.model = load_syncnet(paths[SYNCNET_V2.name], self.device)
        if self.face_stage == "s3fd":
            self.detector = load_s3fd(paths[SFD_FACE.name], self.device)

    def face_tracks(self, video: np.ndarray) -> list[faces.FaceTrack]:
        """The clip's face tracks: run_pipeline.py's stage, or the BlazeFace variant's."""
        if self.face_stage == "s3fd":
            rule = faces.TrackRule(self.min_track, MIN_FACE_PX)
            return faces.track_shots(self.detector.detect_frames(video), faces.scene_cuts(video), rule)
        rule = faces.TrackRule(self.min_track, BLAZEFACE_MIN_FACE * min(video.shape[1:3]), by_span=True)
        return faces.track_faces(faces.detect_faces(video), rule)

    def score(self, clip: Clip, case: Case) -> Score:
        video = clip.video_at(FPS)
        audio = to_int16_scale(clip.audio_at(SAMPLE_RATE))
        tracks = self.face_tracks(video)
        if not tracks:
            length = f"more than {self.min_track} detections" if self.face_stage == "s3fd" \
                else f"at least {self.min_track} frames"
            raise NotScorable(f"no face track of {length} at {FPS} fps ({self.face_stage} faces)")
        results = []
        for track in tracks:
            search = self.track_search(faces.crop_track(video, track), audio, int(track.frames[0]))
            if search is not None:
                results.append((track, search))
        if not results:
            raise NotScorable("face tracks found, but the audio is shorter than one 5-frame window")
        return summarise(results, self.multi_face)

    def track_search(self, crops: np.ndarray, audio: np.ndarray, first_frame: int) -> OffsetSearch | None:
        """Offset search for one face track: crops (n, 224, 224, 3) RGB, audio in int16 units."""
        segment = audio[first_frame * SAMPLES_PER_FRAME : (first_frame + len(crops)) * SAMPLES_PER_FRAME]
        n_windows = min(len(crops), len(segment) // SAMPLES_PER_FRAME) - 5  # as syncnet_python's lastframe
        if n_windows < 1:
            return None
        video_feat, audio_feat = self.embed(crops, mfcc(segment, SAMPLE_RATE), n_windows)
        return search_distances(distance_table(video_feat, audio_feat, MAX_SHIFT), MAX_SHIFT)

    def embed(self, crops: np.ndarray, cepstra: np.ndarray, n_windows: int) -> tuple[np.ndarray, np.ndarray]:
        """(n_windows, D) lip and audio embeddings of window i = frames i..i+4 / MFCC 4i..4i+19."""
        import torch

        lips = torch.from_numpy(np.ascontiguousarray(crops[..., ::-1].transpose(3, 0, 1, 2))).float()  # BGR, (3, n, H, W)
        cc = torch.from_numpy(cepstra.T.copy()).float()  # (13, n_mfcc)
        vfeat, afeat = [], []
        with torch.inference_mode():
            for s in batches(n_windows, self.batch_size):
                idx = range(s.start, s.stop)
                v = torch.stack([lips[:, i : i + 5] for i in idx]).to(self.device)
                a = torch.stack([cc[None, :, MFCC_PER_FRAME * i : MFCC_PER_FRAME * i + 20] for i in idx]).to(self.device)
                vfeat.append(self.model.forward_lip(v).cpu())
                afeat.append(self.model.forward_aud(a).cpu())
        return torch.cat(vfeat).double().numpy(), torch.cat(afeat).double().numpy()


@register("syncnet@v2+active-speaker")
class SyncNetActiveSpeaker(SyncNetMetric):
    """The same tracks and searches, scored by the best track alone (the v1 default)."""

    key = "syncnet@v2+active-speaker"
    backend = "syncnet-v2+active-speaker"
    official = False
    version = "2"  # v2: syncnet@v2 v3's face stage (S3FD); v1: BlazeFace
    card = dataclasses.replace(
        SyncNetMetric.card,
        aggregation=("per clip: the track with the highest Sync-C alone (Sync-D and offset from that track); "
                     "per subset: mean over clips"),
        differences=SyncNetMetric.card.differences + "; and the active-speaker rule instead of the mean over "
                    "tracks, which raises Sync-C on clips with a silent face: not comparable with "
                    "syncnet@v2 on multi-face clips",
    )

    def __init__(self, device: str = "cpu", min_track: int | None = None):
        super().__init__(device, min_track, multi_face="active")


@register("syncnet@v2-blazeface")
class SyncNetBlazeFace(SyncNetMetric):
    """syncnet@v2 v2's face stage: mediapipe BlazeFace instead of S3FD, its own track rule."""

    key = "syncnet@v2-blazeface"
    backend = "syncnet-v2-blazeface"
    official = False
    version = "2"  # the numbers syncnet@v2 v2 stored
    weights = (SYNCNET_V2,)
    packages = ("mediapipe",)
    extra = "offline"
    card = dataclasses.replace(
        SyncNetMetric.card,
        model="SyncNet v2 (Chung & Zisserman 2016), native PyTorch with syncnet_python's layer names",
        checkpoint="syncnet_v2.model (the official state dict, loaded with weights_only=True)",
        preprocessing=("25 fps (nearest frame), 16 kHz mono; faces: mediapipe BlazeFace short-range (confidence 0.5) "
                       "on every frame, greedy IoU>0.5 tracks allowing 25 missed frames, tracks spanning fewer than "
                       f"{BLAZEFACE_MIN_TRACK} frames or smaller than 10% of the short side dropped; syncnet_python "
                       "crop (median-filtered box, crop scale 0.4, grey pad) to 224 px, BGR 0-255; audio as int16 "
                       "values, MFCC 13 x 100 Hz (python_speech_features recipe)"),
        differences=("face detector: mediapipe BlazeFace short-range (confidence 0.5) instead of syncnet_python's S3FD "
                     "(0.9), so faces near the detection limit can differ; no scene cuts; a track's length is its "
                     f"span, first to last frame with bridged gaps counted, at least {BLAZEFACE_MIN_TRACK} frames "
                     "(syncnet_python: more than 100 detections); min face 10% of the short side instead of 100 px; "
                     "no ffmpeg re-encodes; not comparable with syncnet@v2 (v3)"),
        steps=tuple((step, _BLAZEFACE_STEPS.get(k, how)) for k, (step, how) in enumerate(_REFERENCE_STEPS)),
    )

    def __init__(self, device: str = "cpu", min_track: int | None = None, multi_face: str = "mean"):
        super().__init__(device, min_track, multi_face, face_stage="blazeface")


def summarise(results: list[tuple[faces.FaceTrack, OffsetSearch]], multi_face: str) -> Score:
    """Score of a clip from its tracks' searches: the mean over tracks, or the active speaker's."""
    per_track = [{"first_frame": int(t.frames[0]), "frames": len(t), "sync_c": s.confidence,
                  "sync_d": s.min_distance, "offset_frames": s.offset} for t, s in results]
    if multi_face == "active":
        best = max(range(len(results)), key=lambda k: per_track[k]["sync_c"])
        chosen = [per_track[best]]
    else:
        chosen = per_track
    values = {
        "Sync-C": float(np.mean([r["sync_c"] for r in chosen])),
        "Sync-D": float(np.mean([r["sync_d"] for r in chosen])),
        "Sync-offset": float(np.mean([abs(r["offset_frames"]) for r in chosen])),
    }
    details = {"tracks": per_track, "multi_face": multi_face,
               "offset_frames": chosen[0]["offset_frames"] if len(chosen) == 1 else None,
               "sign": "offset > 0: audio late"}
    return Score(values=values, details=details)
