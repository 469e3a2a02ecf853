import numpy as np
import pytest

from harmony_model.synthav.render import FaceStyle, canvas, draw_ball, draw_box, draw_door, draw_face, draw_lamp


def _changed_pixels(img: np.ndarray, closed: np.ndarray) -> int:
    return int((np.abs(img.astype(int) - closed).sum(-1) > 30).sum())


@pytest.mark.parametrize("size", [32, 64, 256])
def test_mouth_opening_is_monotone(size):
    style = FaceStyle()
    closed = draw_face(size, 0.0, style).astype(int)
    counts = [_changed_pixels(draw_face(size, m, style), closed) for m in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert counts[0] == 0
    assert all(b > a for a, b in zip(counts, counts[1:]))
    assert counts[-1] > size * size * 0.015


def test_face_is_deterministic_and_styles_differ():
    a = draw_face(64, 0.5, FaceStyle.from_seed(1))
    assert np.array_equal(a, draw_face(64, 0.5, FaceStyle.from_seed(1)))
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - draw_face(64, 0.5, FaceStyle.from_seed(2))).mean() > 5


def test_face_onto_image_and_non_square():
    img = canvas((48, 96))
    out = draw_face((0, 0), 0.8, image=img, center=(0.3, 0.5), scale=0.5)
    assert out is img and img.shape == (48, 96, 3)
    assert np.array_equal(img[:, 60:], canvas((48, 96))[:, 60:])  # the right side stays background
    assert not np.array_equal(img[:, :60], canvas((48, 96))[:, :60])


def test_objects_change_with_their_state():
    base = canvas(64, (100, 100, 100), gradient=0.0)
    dark, bright = draw_lamp(base.copy(), (0.5, 0.4), 0.1, 0.0), draw_lamp(base.copy(), (0.5, 0.4), 0.1, 1.0)
    assert bright.mean() > dark.mean() + 5
    round_, flat = draw_ball(base.copy(), (0.5, 0.5), 0.15, (220, 40, 40)), draw_ball(base.copy(), (0.5, 0.5), 0.15, (220, 40, 40), 1.0)
    assert np.abs(round_.astype(int) - flat).sum() > 0
    shut, open_ = draw_box(base.copy(), (0.5, 0.6), 0.4, 0.0, (150, 100, 50)), draw_box(base.copy(), (0.5, 0.6), 0.4, 1.0, (150, 100, 50))
    assert np.abs(shut.astype(int) - open_).sum(-1).astype(bool).sum() > 20
    closed, ajar = draw_door(base.copy(), (0.5, 0.5), 0.6, 0.0, (120, 70, 40)), draw_door(base.copy(), (0.5, 0.5), 0.6, 1.0, (120, 70, 40))
    assert np.abs(closed.astype(int) - ajar).sum(-1).astype(bool).sum() > 20
