"""SynthAV: procedurally generated audio-video clips with exactly known audio-visual timing.

Modules: `speech` (espeak-ng speech and its loudness envelope), `render` (drawn faces and
sounding objects), `generator` (the clip generator and its splits), `sounds` (event sounds).
"""

from harmony_model.synthav.source import make_source

__all__ = ["make_source"]
