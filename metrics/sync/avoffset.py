"""AVOffset (offline): sound onsets against visual events, at the clip's own frame rate.

NOT the paper's DeSync (no Synchformer): its own family, so it never lands in the DeSync column.
It answers the same question on a bare machine: how far apart in time are the sound events and
the visual events, in seconds. A clip whose evidence does not single out one offset is refused.
"""

from __future__ import annotations

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.base import AMBIENT_SUBSETS, InputNeeds, Metric, NotScorable, Output, ProtocolCard, Score
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.sync import events

MAX_SHIFT_S = 2.0  # DeSync's grid spans [-2, +2] s
ONSET_FLOOR = 1.0  # grey levels (64x64 mean): a smaller brightening step is not a visual event
IMPACT_FLOOR = 2.0  # change of the grey-level moment (grey level x pixel per pixel, 64x64): less is not an impact
AUDIO_FLOOR_DB = 20.0  # summed band rise (dB, smoothed envelope above its median): less is no sound onset
MAX_RIVAL = 0.6  # another offset fitting more than this share of the best one: ambiguous
MAX_WIDTH_FRAMES = 3.0  # a best fit wider than this at half height: no clear onset
CUES = {"brightening": ("onsets", ONSET_FLOOR), "impact": ("impacts", IMPACT_FLOOR)}


@register("avoffset@onset-motion")
class AVOffsetMetric(Metric):
    key = "avoffset@onset-motion"
    family = "AVOffset"
    backend = "onset-motion"
    official = False
    version = "3"
    outputs = (
        Output("AV-offset", "lower"),  # |offset| in seconds, like DeSync
        Output("AV-offset-conf", "higher", paper=False),
    )
    subsets = AMBIENT_SUBSETS
    requires = InputNeeds(sound=True, motion=True)  # an offset needs events on both sides
    needs = ("every frame, native rate", "audio@16kHz mono")
    card = ProtocolCard(
        model="none (classical)",
        checkpoint="none",
        preprocessing=("every frame at the clip's own rate (no resampling, no frame dropped), as 64x64 grey "
                       "copies; audio resampled to 16 kHz mono. Visual cues per frame: brightening onsets (positive "
                       "steps of the mean grey-level RISE between consecutive frames, times the share of the change "
                       "that is net brightness: a ramp counts at its first frame, a moving object never) and "
                       "impacts (norm of the second difference over frames t-1, t, t+1 of the picture's first "
                       "moment of grey levels about its centre, i.e. the change of the summed motion, flat for "
                       "steady motion and free fall; times (1 - net-brightness share)^2, since a flash moves the "
                       "moment too); each at t / fps, the time frame t is first shown. Audio: spectral flux every "
                       "1 ms (summed rise of 8 log-spaced band levels, 100 Hz-8 kHz, of the Hann-windowed 10 ms "
                       "ENDING at that time, floor -80 dB), so a sound starting at s raises the value at s to "
                       "s + 2 ms; the track's own start is not an onset"),
        formula=("per cue: fit(L) = sum_t w[t] * env(t / fps + L) for L in [-2, 2] s on a 1 ms grid (sub-frame), "
                 "env the flux smoothed by a Gaussian of half a frame (an impact between two frames still meets "
                 "its sound), w and env taken above their medians, fit above its median; rival = the best fit "
                 "more than 1.5 frames from the peak / the peak; of the cues with events, the one with the "
                 "smaller rival gives offset = argmax fit (L > 0: audio late); AV-offset = |offset| in s; "
                 "AV-offset-conf = 1 - rival"),
        aggregation="per clip as above; per subset: mean",
        reference="classical onset/motion cross-correlation; offset range and units of av-benchmark's DeSync",
        differences=("not comparable with DeSync: no learned model; 1 ms grid instead of 0.2 s; one search over "
                     "the whole clip instead of the first and last 4.8 s. Refused (no number, with the reason): no "
                     f"visual event (no brightening step of {ONSET_FLOOR:g} grey level and no motion change of "
                     f"{IMPACT_FLOOR:g} grey level x pixel per pixel), no sound onset (summed rise under "
                     f"{AUDIO_FLOOR_DB:g} dB), an ambiguous fit (another offset fits more than {MAX_RIVAL:.0%} as "
                     "well: periodic events, a pattern that repeats), a best fit wider than "
                     f"{MAX_WIDTH_FRAMES:g} frames at half height (events without a clear onset), both cues "
                     "singling out offsets more than 1.5 frames apart (conflicting evidence). Events that only "
                     "darken are not seen. Known-answer corpus (16-60 fps, 16-48 kHz, flashes, ramps, ball "
                     "impacts, distractors, offsets -8..+8 frames): benchmarks/results/avoffset_corpus.txt. v3: the "
                     "clip's own frame rate (v2 resampled to 25 fps by nearest frame, dropping one-frame flashes "
                     "at 30 fps, and took audio blocks on a 25 fps grid: a -25 ms bias at other rates), the impact "
                     "cue, the 1 ms grid and the refusals"),
        precision="none (classical): no network; the signals and the search in float64 (numpy)",
    )

    def score(self, clip: Clip, case: Case) -> Score:
        cues = events.visual_cues(clip.stream(), clip.fps)
        envelope = events.audio_onset_envelope(clip.audio_at(clip.sample_rate), clip.sample_rate)
        if envelope.max() - np.median(envelope) < AUDIO_FLOOR_DB:
            raise NotScorable(f"no audio events: no sound onset of {AUDIO_FLOOR_DB:g} dB")
        searches = {name: events.lag_search(cues.times, getattr(cues, field), envelope, clip.fps, MAX_SHIFT_S)
                    for name, (field, floor) in CUES.items() if getattr(cues, field).max() >= floor}
        if not searches:
            raise NotScorable(f"no visual events: no brightening step of {ONSET_FLOOR} grey levels and no motion "
                              f"change of {IMPACT_FLOOR}")
        cue, s = min(searches.items(), key=lambda item: item[1].rival)
        if s.rival > MAX_RIVAL:
            raise NotScorable(f"ambiguous: another offset fits {s.rival:.0%} as well as {s.offset_s:+.3f} s "
                              f"({cue} cue)")
        if s.width_frames > MAX_WIDTH_FRAMES:
            raise NotScorable(f"no clear onset: the best fit ({s.offset_s:+.3f} s, {cue} cue) spans "
                              f"{s.width_frames:.1f} frames")
        for other, o in searches.items():  # both cues single out an offset, but not the same one
            if (other != cue and o.rival <= MAX_RIVAL and o.width_frames <= MAX_WIDTH_FRAMES
                    and abs(o.offset_s - s.offset_s) > events.RIVAL_FRAMES * s.frame_s):
                raise NotScorable(f"ambiguous: the {cue} cue gives {s.offset_s:+.3f} s, the {other} cue "
                                  f"{o.offset_s:+.3f} s (rivals {s.rival:.0%}, {o.rival:.0%})")
        return Score(values={"AV-offset": abs(s.offset_s), "AV-offset-conf": 1.0 - s.rival},
                     details={"offset_s": s.offset_s, "offset_frames": s.offset_s * clip.fps, "cue": cue,
                              "rival": s.rival, "width_frames": s.width_frames, "sign": "offset > 0: audio late"})
