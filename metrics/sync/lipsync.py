"""LipSync (offline): face-mesh lip opening against the speech envelope, SyncNet's search.

NOT the paper's Sync-C/Sync-D: no learned embedding, so its numbers are on another scale; it
has its own family so no report can put it under the paper's columns. It runs on a bare machine
(mediapipe ships its face mesh) and answers the same question: does the mouth move with the
sound, and at which offset.
"""

from __future__ import annotations

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.base import SPEECH_SUBSETS, InputNeeds, Metric, NotScorable, Output, ProtocolCard, Score
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.sync import faces, signals
from harmony_bench.metrics.sync.offsets import OffsetSearch, correlation_search, standardise

FPS = 25
SAMPLE_RATE = 16000
MAX_SHIFT = 15  # frames, as SyncNet
MIN_TRACK = 50  # frames, as syncnet@v2
LIP_FLOOR = 0.01  # lip-gap std below 1% of the face height counts as a still mouth
LEVEL_FLOOR_DB = 3.0  # loudness std below 3 dB counts as no speech rhythm


@register("lipsync@facemesh")
class LipSyncMetric(Metric):
    key = "lipsync@facemesh"
    family = "LipSync"
    backend = "facemesh"
    official = False
    version = "2"
    outputs = (
        Output("LipSync-C", "higher"),
        Output("LipSync-D", "lower"),
        Output("LipSync-offset", "lower", paper=False),  # |offset| in 25 fps frames; signed in details
    )
    subsets = SPEECH_SUBSETS
    requires = InputNeeds(sound=True, motion=True, picture=True)  # an offset needs speech and a face that moves
    needs = ("frames@25fps", "audio@16kHz mono")
    packages = ("mediapipe",)
    extra = "offline"
    card = ProtocolCard(
        model="none (classical): mediapipe 0.10.21 face mesh (bundled model) + speech loudness",
        checkpoint="none",
        preprocessing=("25 fps (frames streamed, native size), 16 kHz mono; per face track (nearest-centre association, >= 2 s): mean inner-lip "
                       "gap of landmark pairs 13/14, 82/87, 312/317 over the forehead-chin height; audio: RMS level "
                       "in dBFS per 40 ms frame block, floored at -60 dB; both standardised with std floors "
                       f"({LIP_FLOOR} face heights, {LEVEL_FLOOR_DB} dB) so a still mouth or silence stays near 0"),
        formula=("c(L) = (1/T) sum_t lip[t] * level[t + L] for L in [-15, 15] frames (zero outside), d = 1 - c; "
                 "LipSync-D = min d, LipSync-C = median d - min d, offset = argmin (L > 0: audio late)"),
        aggregation="per clip: the face track with the highest LipSync-C (active speaker); per subset: mean",
        reference="SyncNet's offset search (joonson/syncnet_python) with a hand-made lip/loudness pair",
        differences=("not comparable with Sync-C/Sync-D: a correlation in [-1, 1], not a learned embedding distance; "
                     "silence or a frozen picture: unscorable (v1 stored C = 0, D = 1, offset 15); a still mouth in a "
                     "moving picture: LipSync-C about 0 and the offset carries no information"),
        precision=("none (classical) for the score: mediapipe's bundled face mesh runs as shipped (TFLite, CPU) to "
                   "find the lips; the lip and loudness signals are searched in float64 (numpy)"),
    )

    def score(self, clip: Clip, case: Case) -> Score:
        tracks = faces.lip_tracks(clip.stream(FPS), MIN_TRACK)
        if not tracks:
            raise NotScorable(f"no face-mesh track of at least {MIN_TRACK} frames at {FPS} fps")
        level = signals.loudness_db(clip.audio_at(SAMPLE_RATE), SAMPLE_RATE, FPS, clip.frame_count(FPS))
        searches = [track_search(t, level) for t in tracks]
        best = max(range(len(tracks)), key=lambda k: searches[k].confidence)
        s = searches[best]
        per_track = [{"first_frame": int(t.frames[0]), "frames": len(t), "lipsync_c": q.confidence,
                      "lipsync_d": q.min_distance, "offset_frames": q.offset} for t, q in zip(tracks, searches)]
        return Score(values={"LipSync-C": s.confidence, "LipSync-D": s.min_distance, "LipSync-offset": float(abs(s.offset))},
                     details={"offset_frames": s.offset, "active_track": best, "tracks": per_track,
                              "sign": "offset > 0: audio late"})


def track_search(track: faces.LipTrack, level_db: np.ndarray) -> OffsetSearch:
    """Offset search between one face's lip opening and the clip's loudness over the track's span."""
    level = level_db[track.frames[0] : track.frames[-1] + 1]
    return correlation_search(standardise(track.opening, LIP_FLOOR), standardise(level, LEVEL_FLOOR_DB), MAX_SHIFT)
