"""`weights check`: the publishers' known answers, pinned, and the machinery that compares with them,
run on random-weight files in the official formats with answers computed by the reference route."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from harmony_bench import known_answers as ka
from harmony_bench.cli import main
from harmony_bench.known_answers import KNOWN_ANSWERS, Expected, check, check_all
from harmony_bench.metrics.registry import all_metric_keys, get_metric
from harmony_bench.weights import sha256_of

SPAQ = next(a for a in KNOWN_ANSWERS if a.metric == "iq@musiq-spaq")


# -- what is pinned ----------------------------------------------------------------------------

def test_every_input_is_pinned_at_a_commit_with_its_hash_or_says_why_not():
    raw = re.compile(r"^https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/\S+$")
    for answer in KNOWN_ANSWERS:
        backend_dirs = {wf.name.split("/")[1] for wf in answer.inputs}
        assert len(backend_dirs) == 1 and all(wf.name.startswith("known-answers/") for wf in answer.inputs)
        assert answer.expected and answer.source and answer.tolerance
        assert answer.compute is not None
        for wf in answer.inputs:
            assert wf.licence and wf.size_bytes is None or wf.size_bytes > 0
            if wf.sha256 is None:
                assert "no hash published" in wf.note and wf.check_format, wf.name
            else:
                assert re.fullmatch(r"[0-9a-f]{64}", wf.sha256) and raw.match(wf.source), wf.name
                assert wf.source.split("/")[5][:12] in wf.hash_source  # the hash was read at that commit
    names = [wf.name for wf in ka.known_answer_files()]
    assert len(names) == len(set(names)) == 5 + 1 + 6 + 1 + 2
    assert all(wf.url for wf in ka.known_answer_files())  # each one fetchable, not only described


def test_weights_fetch_known_answers_adds_the_named_backends_inputs(capsys):
    assert main(["weights", "fetch", "--known-answers", "--dry-run", "syncnet@v2"]) == 0
    out = capsys.readouterr().out
    assert "known-answers/syncnet/example.avi  [weights check]" in out
    assert "robots.ox.ac.uk" in out and "known-answers/musiq" not in out


def test_every_official_card_says_whether_a_published_known_answer_exists():
    checked = {a.metric for a in KNOWN_ANSWERS}
    for key in all_metric_keys():
        card = get_metric(key).card.known_answer
        if get_metric(key).official or key in checked:
            assert card.startswith(("published", "none")), key
        if key in checked:
            assert card.startswith("published"), key
        if card.startswith("none"):
            assert key not in checked


def test_pyiqas_own_musiq_port_passes_the_official_scores_within_pyiqas_tolerance():
    """Known answer for the comparison rule: pyiqa's calibration_summary.csv scores of its port
    (musiq-spaq(ours)) against the official ones, with its test's atol 1e-2 and rtol 3e-2."""
    pyiqa_port = (17.6808, 70.6541, 79.0371, 79.3199, 50.455)
    assert all(e.holds(v) for e, v in zip(SPAQ.expected, pyiqa_port))
    i19 = SPAQ.expected[-1]  # 49.105: the bound is 0.01 + 0.03 * 49.105 = 1.48315
    assert i19.holds(49.105 + 1.483) and not i19.holds(49.105 + 1.484) and not i19.holds(float("nan"))
    assert Expected("p", "my fellow americans").holds(" And so, My fellow Americans, ask not")
    assert not Expected("p", "your country").holds("ask not what you can do")


# -- the machinery on random-weight files ------------------------------------------------------

@pytest.fixture
def musiq_folder(tmp_path, monkeypatch):
    """Random MUSIQ weights in pyiqa's format and five random BMPs where the inputs go, both
    accepted through a manifest override."""
    from PIL import Image

    from harmony_bench.metrics.video import manifest
    from harmony_bench.metrics.video.testing import _musiq

    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    (tmp_path / manifest.MUSIQ_SPAQ.name).parent.mkdir(parents=True)
    _musiq(tmp_path / manifest.MUSIQ_SPAQ.name)
    rng = np.random.default_rng(0)
    (tmp_path / "known-answers" / "musiq").mkdir(parents=True)
    for wf in ka.MUSIQ_IMAGES:
        Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(tmp_path / wf.name)
    table = {wf.name: sha256_of(tmp_path / wf.name) for wf in (manifest.MUSIQ_SPAQ, *ka.MUSIQ_IMAGES)}
    (tmp_path / "manifest.json").write_text(json.dumps(table))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(tmp_path / "manifest.json"))
    return tmp_path


def reference_musiq_answers(folder) -> tuple[Expected, ...]:
    """The scores by pyiqa's route: the state dict loaded into the MUSIQ network, each image read
    as pyiqa's imread2tensor does (PIL, RGB, to_tensor in [0, 1]), one forward pass."""
    import torch
    from PIL import Image
    from torchvision.transforms.functional import to_tensor

    from harmony_bench.metrics.video import manifest
    from harmony_bench.metrics.video.musiq import Musiq, MusiqConfig

    state = torch.load(folder / manifest.MUSIQ_SPAQ.name, map_location="cpu", weights_only=True)
    model = Musiq(MusiqConfig.from_state_dict(state))
    model.load_state_dict(state)
    model.eval()
    scores = []
    with torch.no_grad():
        for wf in ka.MUSIQ_IMAGES:
            scores.append(float(model(to_tensor(Image.open(folder / wf.name).convert("RGB"))[None])))
    return tuple(dataclasses.replace(e, value=s) for e, s in zip(SPAQ.expected, scores))


def test_check_passes_on_the_reference_answers_and_fails_beyond_the_tolerance(musiq_folder):
    expected = reference_musiq_answers(musiq_folder)
    result = check(dataclasses.replace(SPAQ, expected=expected))
    assert result.verdict == "pass", result
    assert [c.label for c in result.comparisons] == ["I03.bmp", "I04.bmp", "I06.bmp", "I08.bmp", "I19.bmp"]
    for c, e in zip(result.comparisons, expected):
        assert c.ok and c.got == pytest.approx(e.value, abs=1e-4)

    bound = ka.PYIQA_ATOL + ka.PYIQA_RTOL * abs(expected[2].value)
    near = expected[:2] + (dataclasses.replace(expected[2], value=expected[2].value + 0.9 * bound),) + expected[3:]
    assert check(dataclasses.replace(SPAQ, expected=near)).verdict == "pass"
    off = expected[:2] + (dataclasses.replace(expected[2], value=expected[2].value + 1.1 * bound),) + expected[3:]
    failed = check(dataclasses.replace(SPAQ, expected=off))
    assert failed.verdict == "FAIL" and [c.ok for c in failed.comparisons] == [True, True, False, True, True]


def test_cli_prints_expected_got_and_verdict_and_exits_1_on_a_failure(musiq_folder, monkeypatch, capsys):
    expected = reference_musiq_answers(musiq_folder)
    monkeypatch.setattr(ka, "KNOWN_ANSWERS", (dataclasses.replace(SPAQ, expected=expected),))
    assert main(["weights", "check", "iq@musiq-spaq", "dd@raft"]) == 0
    out = capsys.readouterr().out
    assert "iq@musiq-spaq: pass" in out and f"I19.bmp: expected {expected[-1].value:.6g}, got " in out
    assert "dd@raft: no published known answer: none published" in out

    wrong = (dataclasses.replace(expected[0], value=expected[0].value + 5.0),) + expected[1:]
    monkeypatch.setattr(ka, "KNOWN_ANSWERS", (dataclasses.replace(SPAQ, expected=wrong),))
    assert main(["weights", "check", "iq@musiq-spaq"]) == 1
    out = capsys.readouterr().out
    assert "iq@musiq-spaq: FAIL" in out and re.search(r"I03\.bmp: expected .* FAIL", out)


def test_missing_or_altered_inputs_and_missing_weights_are_said_not_scored(musiq_folder, monkeypatch, capsys):
    from harmony_bench.metrics.video import manifest

    (musiq_folder / ka.MUSIQ_IMAGES[0].name).write_bytes(b"BM not the pinned image")
    result = check(SPAQ)
    assert result.verdict == "inputs missing" and "does not match" in result.reason and not result.comparisons
    (musiq_folder / ka.MUSIQ_IMAGES[0].name).unlink()
    assert check(SPAQ).verdict == "inputs missing"
    (musiq_folder / manifest.MUSIQ_SPAQ.name).unlink()
    assert check(SPAQ).verdict == "no weights"
    assert main(["weights", "check", "iq@musiq-spaq"]) == 0
    assert "to fix: harmony-bench weights fetch iq@musiq-spaq" in capsys.readouterr().out


def test_every_official_backend_gets_a_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    results = {r.metric: r for r in check_all()}
    official = {k for k in all_metric_keys() if get_metric(k).official}
    assert official <= set(results)
    assert {r.verdict for k, r in results.items() if k in {a.metric for a in KNOWN_ANSWERS}} == {"no weights"}


def _whisper_inputs(folder):
    import soundfile as sf

    from harmony_bench.metrics.audio.testing import write_whisper
    from harmony_bench.metrics.audio.wer import WHISPER_LARGE_V3

    (folder / WHISPER_LARGE_V3.name).parent.mkdir(parents=True)
    write_whisper(folder / WHISPER_LARGE_V3.name)
    t = np.arange(44_100 * 2) / 44_100  # stereo 44.1 kHz, as jfk.flac
    sf.write(folder / ka.JFK.name, np.stack([np.sin(2 * np.pi * 220 * t)] * 2, axis=1) * 0.3, 44_100)
    return [WHISPER_LARGE_V3.name, ka.JFK.name]


def _imagebind_inputs(folder):
    import soundfile as sf
    from PIL import Image

    from harmony_bench.metrics.audio.checkpoints import override_path
    from harmony_bench.metrics.audio.imagebind import IMAGEBIND_HUGE
    from harmony_bench.metrics.audio.testing import write_imagebind

    (folder / IMAGEBIND_HUGE.name).parent.mkdir(parents=True)
    write_imagebind(folder / IMAGEBIND_HUGE.name)
    rng = np.random.default_rng(1)
    for wf in ka.IB_IMAGES:
        Image.fromarray(rng.integers(0, 256, (180, 260, 3), dtype=np.uint8)).save(folder / wf.name, format="JPEG")
    for i, wf in enumerate(ka.IB_AUDIO):  # 44.1 kHz, mono and stereo, as the README's files
        sf.write(folder / wf.name, 0.1 * rng.standard_normal((44_100 * (2 + i), 1 + i % 2)), 44_100, subtype="PCM_16")
    return [IMAGEBIND_HUGE.name, str(override_path(folder / IMAGEBIND_HUGE.name).relative_to(folder))]


def _syncnet_inputs(folder):
    from harmony_bench.media import write_clip
    from harmony_bench.metrics.sync.syncnet import SFD_FACE, SYNCNET_V2
    from harmony_bench.metrics.sync.testing import write_random_weights

    # the demo crops no face, but the backend loads its detector too: a user has both files
    write_random_weights(folder, only=(SYNCNET_V2.name, SFD_FACE.name))
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (20, 224, 224, 3), dtype=np.uint8)
    write_clip(folder / ka.SYNCNET_EXAMPLE.name, frames, 25, 0.1 * rng.standard_normal(16_000 * 20 // 25), 16_000,
               wav=False)
    return [SYNCNET_V2.name, SFD_FACE.name]


def _synchformer_inputs(folder):
    from harmony_bench.media import write_clip
    from harmony_bench.metrics.sync.desync import SYNCHFORMER
    from harmony_bench.metrics.sync.testing import write_random_weights

    written = write_random_weights(folder, only=(SYNCHFORMER.name,))
    rng = np.random.default_rng(3)
    for wf in ka.SYNCHFORMER_CLIPS:  # 10 s, 25 fps, 256 px short side, 16 kHz: the published clips' format
        frames = rng.integers(0, 256, (250, 256, 320, 3), dtype=np.uint8)
        write_clip(folder / wf.name, frames, 25, 0.1 * rng.standard_normal(160_000), 16_000, wav=False, crf=40)
    return list(written)


@pytest.mark.slow
@pytest.mark.parametrize("key,write", [("wer@whisper-large-v3", _whisper_inputs),
                                       ("ib@imagebind-huge", _imagebind_inputs), ("syncnet@v2", _syncnet_inputs),
                                       ("desync@synchformer", _synchformer_inputs)])
def test_each_backends_check_runs_its_publishers_input_format_through_random_weights(key, write, tmp_path,
                                                                                     monkeypatch):
    """Random weights cannot give the published values: the check runs end to end on files shaped
    like the publisher's and says FAIL, with a number or a text for every published value."""
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    answer = next(a for a in KNOWN_ANSWERS if a.metric == key)
    for wf in answer.inputs:
        (tmp_path / wf.name).parent.mkdir(parents=True, exist_ok=True)
    names = write(tmp_path) + [wf.name for wf in answer.inputs]
    (tmp_path / "manifest.json").write_text(json.dumps({n: sha256_of(tmp_path / n) for n in names}))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(tmp_path / "manifest.json"))
    result = check(answer)
    assert result.verdict == "FAIL", result
    assert [c.label for c in result.comparisons] == [e.label for e in answer.expected]
    assert all(isinstance(c.got, str) or np.isfinite(c.got) for c in result.comparisons)


def test_the_unhashed_syncnet_clip_must_be_a_224_face_crop_with_audio(tmp_path, monkeypatch):
    from harmony_bench.media import write_clip
    from harmony_bench.weights import WeightsMismatch, verify

    frames = np.zeros((10, 224, 224, 3), np.uint8)
    write_clip(tmp_path / "ok.avi", frames, 25, np.zeros(6400), 16_000, wav=False)
    write_clip(tmp_path / "wide.avi", np.zeros((10, 224, 320, 3), np.uint8), 25, np.zeros(6400), 16_000, wav=False)
    verify(ka.SYNCNET_EXAMPLE, tmp_path / "ok.avi")
    with pytest.raises(WeightsMismatch, match=r"224 x 224 frames and an audio track, got frames \(320, 224\)"):
        verify(ka.SYNCNET_EXAMPLE, tmp_path / "wide.avi")
    (tmp_path / "junk.avi").write_bytes(b"RIFF not a video")
    with pytest.raises(WeightsMismatch, match="not a readable video"):
        verify(ka.SYNCNET_EXAMPLE, tmp_path / "junk.avi")
