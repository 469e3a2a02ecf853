"""AVOffset (offline): audio onsets against visual onsets (brightness rises), over DeSync's offset range.

NOT the paper's DeSync (no Synchformer): its own family, so it never lands in the DeSync column.
It answers the same question on a bare machine: how far apart in time are the sound events and
the visual events, in seconds.
"""

from __future__ import annotations

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.base import AMBIENT_SUBSETS, InputNeeds, Metric, NotScorable, Output, ProtocolCard, Score
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.sync import signals
from harmony_bench.metrics.sync.offsets import correlation_search, standardise

FPS = 25
SAMPLE_RATE = 16000
MAX_SHIFT_S = 2.0  # DeSync's grid spans [-2, +2] s
MAX_SHIFT = int(MAX_SHIFT_S * FPS)  # 50 frames, one-frame (40 ms) resolution
RISE_FLOOR = 0.5  # grey levels: a picture that brightens less has no visual events
FLUX_FLOOR = 1.0  # dB of summed band rise: audio with less is steady (no onsets)


@register("avoffset@onset-motion")
class AVOffsetMetric(Metric):
    key = "avoffset@onset-motion"
    family = "AVOffset"
    backend = "onset-motion"
    official = False
    version = "2"
    outputs = (
        Output("AV-offset", "lower"),  # |offset| in seconds, like DeSync
        Output("AV-offset-conf", "higher", paper=False),
    )
    subsets = AMBIENT_SUBSETS
    requires = InputNeeds(sound=True, motion=True)  # an offset needs events on both sides
    needs = ("frames@25fps", "audio@16kHz mono")
    card = ProtocolCard(
        model="none (classical)",
        checkpoint="none",
        preprocessing=("25 fps, 16 kHz mono, frames streamed; visual onsets: mean grey-level RISE (positive part "
                       "of the change) between consecutive frames (64x64 copy), so a flash counts once, at its "
                       "start, not again when it ends; audio: spectral flux (summed rise of 24 log-spaced band levels, dB, floor "
                       "-60) per 40 ms block aligned with the frames; both standardised with std floors"),
        formula=("c(L) = (1/T) sum_t rise[t] * flux[t + L] for L in [-2, 2] s at 40 ms steps; offset = argmax c "
                 "(L > 0: audio late); AV-offset = |offset| in s; AV-offset-conf = max c - median c"),
        aggregation="per clip as above; per subset: mean",
        reference="classical onset/motion cross-correlation; offset range and units of av-benchmark's DeSync",
        differences=("not comparable with DeSync: no learned model; 40 ms grid instead of 0.2 s; one search over "
                     "the whole clip instead of the first and last 4.8 s; unscorable when either side has no events "
                     f"(rise std < {RISE_FLOOR} grey levels, flux std < {FLUX_FLOOR} dB). v2: onsets only (v1 counted "
                     "darkening too, and every short flash gave two equal peaks: offsets came out up to its "
                     "length short); events that only darken (a light going out) are not seen"),
        precision="none (classical): no network; the two event signals are correlated in float64 (numpy)",
    )

    def score(self, clip: Clip, case: Case) -> Score:
        rise = signals.brightening(clip.stream(FPS))
        flux = signals.onset_strength(clip.audio_at(SAMPLE_RATE), SAMPLE_RATE, FPS, len(rise))
        if rise.std() < RISE_FLOOR:
            raise NotScorable("no visual events: the picture hardly brightens anywhere")
        if flux.std() < FLUX_FLOOR:
            raise NotScorable("no audio events: no onsets in the sound")
        s = correlation_search(standardise(rise, RISE_FLOOR), standardise(flux, FLUX_FLOOR), MAX_SHIFT)
        return Score(values={"AV-offset": abs(s.offset) / FPS, "AV-offset-conf": s.confidence},
                     details={"offset_s": s.offset / FPS, "sign": "offset > 0: audio late"})
