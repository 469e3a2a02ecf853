"""Built-in model adapters: static/noise determinism, cmd: argument safety, registry errors."""

import sys

import numpy as np
import pytest

from harmony_bench.cases import load_cases
from harmony_bench.media import read_clip
from harmony_bench.models import GenerationError, get_model
from harmony_bench.registry import UnknownName

NASTY = '; rm -rf ~ $(x) "quoted" `y` | & > /tmp/z {braces} \\'


def test_cmd_passes_case_text_as_one_unchanged_argument(tiny_cases, tmp_path):
    import dataclasses

    case = dataclasses.replace(load_cases(tiny_cases)[0], video_caption=NASTY)
    capture = tmp_path / "argv.txt"
    script = tmp_path / "gen.py"
    script.write_text(
        "import sys, numpy as np\n"
        "from harmony_bench.media import write_clip\n"
        f"open({str(capture)!r}, 'w', encoding='utf-8').write(repr(sys.argv[1:]))\n"
        "write_clip(sys.argv[-1], np.zeros((4, 16, 16, 3), np.uint8), 8, np.zeros(8000, np.float32), 16000)\n")
    model = get_model(f"cmd:{sys.executable} {script} --caption {{video_caption}} --seed {{seed}} {{out}}")
    clip = model.generate(case, 7, tmp_path)
    argv = eval(capture.read_text(encoding="utf-8"))
    assert argv[:4] == ["--caption", NASTY, "--seed", "7"]
    assert read_clip(clip.video).num_frames == 4


def test_cmd_failures_name_the_problem(tiny_cases, tmp_path):
    case = load_cases(tiny_cases)[0]
    with pytest.raises(ValueError, match="unknown field {nope}"):  # when the model is built, before any case
        get_model(f"cmd:{sys.executable} -c pass {{nope}}")
    with pytest.raises(GenerationError, match="exited with 3"):
        get_model(f"cmd:{sys.executable} -c 'import sys; sys.exit(3)'").generate(case, 0, tmp_path)
    with pytest.raises(GenerationError, match="did not write"):
        get_model(f"cmd:{sys.executable} -c pass").generate(case, 0, tmp_path)


def test_static_and_noise_are_deterministic(tiny_cases, tmp_path):
    case = load_cases(tiny_cases)[2]
    a = read_clip(get_model("noise").generate(case, 3, tmp_path / "a").video)
    b = read_clip(get_model("noise").generate(case, 3, tmp_path / "b").video)
    c = read_clip(get_model("noise").generate(case, 4, tmp_path / "c").video)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert not np.array_equal(a.audio, c.audio)
    s = read_clip(get_model("static").generate(case, 0, tmp_path / "s").video)
    assert s.num_frames == 24 and np.abs(s.frames[0].astype(int) - s.frames[-1]).max() == 0
    assert np.all(s.audio == 0)


def test_unknown_model_suggests_a_name():
    with pytest.raises(UnknownName, match="did you mean static"):
        get_model("statc")


def test_third_party_model_plugs_in_through_the_entry_point_group(tiny_cases, tmp_path, monkeypatch):
    """An installed distribution (a dist-info folder on sys.path) exposing a Model subclass."""
    pkg = tmp_path / "site" / "hb_plugin_demo"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "from harmony_bench.models.baselines import StaticModel\n"
        "class Demo(StaticModel):\n    name = 'demo-plugin'\n")
    dist = tmp_path / "site" / "hb_plugin_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hb-plugin-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[harmony_bench.models]\ndemo = hb_plugin_demo:Demo\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = get_model("demo")
    assert model.name == "demo-plugin"
    clip = model.generate(load_cases(tiny_cases)[0], 0, tmp_path / "out")
    assert clip.video.name == "amb-001.mp4" and clip.video.is_file()
