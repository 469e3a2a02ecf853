"""Drawn faces and simple sounding objects, at any resolution.

Every position and size is a fraction of the image (x, y in 0..1 of width/height; radii and
sizes in fractions of the shorter side), so one scene description renders the same at 32x32
(the tiny model) and at 256x256 (case assets). Drawing uses OpenCV with sub-pixel precision and
anti-aliasing, so a mouth that opens by a fraction of a pixel still changes the pixels.

Public API (kept stable; other packages import it):
    canvas(size, color, gradient)             -> (H, W, 3) uint8 background
    draw_face(size, mouth_open, style, ...)   -> (H, W, 3) uint8 (or draws onto `image`)
    FaceStyle, FaceStyle.from_seed(seed)
    draw_ball(image, center, radius, color, squash)
    draw_box(image, center, size, lid_open, color)
    draw_door(image, center, size, open_amount, color)
    draw_lamp(image, center, radius, brightness, color)
The draw_* object functions draw in place and return the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Color = tuple[int, int, int]
_SHIFT = 4  # OpenCV fixed-point bits: coordinates are multiplied by 16
_ONE = 1 << _SHIFT


def _hw(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _px(image: np.ndarray, xy: tuple[float, float]) -> tuple[int, int]:
    """Fractional (x, y) -> OpenCV fixed-point pixel coordinates."""
    h, w = image.shape[:2]
    return int(round(xy[0] * w * _ONE)), int(round(xy[1] * h * _ONE))


def _len(image: np.ndarray, frac: float) -> int:
    """A length in fractions of the shorter side -> fixed-point pixels (at least 1/16 px)."""
    return max(1, int(round(frac * min(image.shape[:2]) * _ONE)))


def _ellipse(image: np.ndarray, center, axes, color: Color, thickness: int = -1, angle: float = 0.0,
             start: float = 0.0, end: float = 360.0) -> None:
    ax = (_len(image, axes[0]), _len(image, axes[1]))
    cv2.ellipse(image, _px(image, center), ax, angle, start, end, tuple(int(c) for c in color),
                thickness, cv2.LINE_AA, _SHIFT)


def _poly(image: np.ndarray, points: list[tuple[float, float]], color: Color) -> None:
    pts = np.array([_px(image, p) for p in points], dtype=np.int32)
    cv2.fillPoly(image, [pts], tuple(int(c) for c in color), cv2.LINE_AA, _SHIFT)


def _line(image: np.ndarray, a, b, color: Color, width: float) -> None:
    thickness = max(1, int(round(width * min(image.shape[:2]))))
    cv2.line(image, _px(image, a), _px(image, b), tuple(int(c) for c in color), thickness, cv2.LINE_AA, _SHIFT)


def canvas(size: int | tuple[int, int], color: Color = (70, 110, 160), gradient: float = 0.25) -> np.ndarray:
    """A background of `color` darkening towards the bottom by `gradient` (0 = flat)."""
    h, w = _hw(size)
    shade = 1.0 - gradient * np.linspace(0.0, 1.0, h)[:, None, None]
    img = np.broadcast_to(np.asarray(color, dtype=np.float64) * shade, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class FaceStyle:
    """Colours and proportions of a drawn face (identity); `from_seed` makes varied ones."""

    skin: Color = (224, 182, 150)
    hair: Color = (60, 40, 28)
    lips: Color = (168, 62, 72)
    mouth_inside: Color = (48, 12, 18)
    eyes: Color = (35, 30, 30)
    background: Color = (70, 110, 160)
    width: float = 0.30  # half-width of the head, fraction of the shorter side
    height: float = 0.40  # half-height of the head
    mouth_width: float = 0.36  # half-width of the mouth, fraction of the head half-width

    @classmethod
    def from_seed(cls, seed: int) -> FaceStyle:
        rng = np.random.default_rng(seed)
        skins = [(241, 206, 180), (224, 182, 150), (198, 145, 110), (160, 110, 80), (110, 75, 55)]
        hairs = [(25, 20, 18), (60, 40, 28), (120, 80, 40), (200, 170, 110), (140, 140, 140), (150, 50, 30)]
        backgrounds = [(70, 110, 160), (90, 140, 90), (150, 120, 170), (170, 160, 120), (60, 60, 70),
                       (180, 200, 210)]
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        return cls(skin=pick(skins), hair=pick(hairs), background=pick(backgrounds),
                   lips=tuple(int(c) for c in np.array((168, 62, 72)) + rng.integers(-20, 21, 3)),
                   width=float(rng.uniform(0.26, 0.32)), height=float(rng.uniform(0.36, 0.42)),
                   mouth_width=float(rng.uniform(0.30, 0.42)))


def draw_face(size: int | tuple[int, int], mouth_open: float, style: FaceStyle | None = None, *,
              image: np.ndarray | None = None, center: tuple[float, float] = (0.5, 0.52),
              scale: float = 1.0, blink: float = 0.0, gaze: float = 0.0) -> np.ndarray:
    """Draw a frontal cartoon face whose mouth opening follows `mouth_open` (0 closed .. 1 wide).

    Args:
        size: output size (int for square, or (H, W)); ignored when `image` is given.
        mouth_open: 0..1; the gap between the lips grows linearly with it.
        style: colours and proportions (FaceStyle()); its background is used for a new canvas.
        image: draw onto this (H, W, 3) uint8 image in place instead of a new canvas.
        center: face centre as fractions (x, y) of the image.
        scale: multiplies the head size (e.g. 0.6 for a speaker beside objects).
        blink: 0 open eyes .. 1 closed (a visual event with no sound).
        gaze: -1..1 moves the pupils left/right (motion with no sound).

    Returns:
        The image, (H, W, 3) uint8 RGB.
    """
    style = style or FaceStyle()
    img = canvas(size, style.background) if image is None else image
    m = float(np.clip(mouth_open, 0.0, 1.0))
    cx, cy = center
    h, w = img.shape[:2]
    a, b = style.width * scale, style.height * scale  # head half-axes, fractions of the shorter side
    sx, sy = min(h, w) / w, min(h, w) / h  # fraction-of-short-side -> fraction of width/height
    at = lambda dx, dy: (cx + dx * a * sx, cy + dy * b * sy)  # noqa: E731  (head-relative point)

    _ellipse(img, at(0, -0.12), (a * 1.08, b * 0.98), style.hair)  # hair behind the head
    _ellipse(img, (cx, cy), (a, b), style.skin)
    _ellipse(img, at(0, -0.62), (a * 0.95, b * 0.42), style.hair, start=180, end=360)  # fringe
    for side in (-1, 1):
        eye = at(0.38 * side, -0.12)
        opening = max(0.01, 0.11 * (1.0 - float(np.clip(blink, 0, 1))))
        _ellipse(img, eye, (0.20 * a, opening * b), (245, 245, 240))
        if opening > 0.03:
            _ellipse(img, (eye[0] + 0.07 * a * sx * gaze, eye[1]), (0.08 * a, min(0.08 * a, opening * b)), style.eyes)
        _line(img, at(0.38 * side - 0.18, -0.33), at(0.38 * side + 0.18, -0.36), style.hair, 0.02 * scale)
    nose = tuple(int(c * 0.85) for c in style.skin)
    _poly(img, [at(0, 0.02), at(-0.09, 0.24), at(0.09, 0.24)], nose)
    _draw_mouth(img, at(0, 0.52), a * style.mouth_width, b, m, style)
    return img


def _draw_mouth(img: np.ndarray, center, half_width: float, head_b: float, m: float, style: FaceStyle) -> None:
    gap = 0.24 * head_b * m  # half-height of the opening
    lip = 0.045 * head_b
    hw = half_width * (1.0 - 0.2 * m)  # an open mouth gets a little narrower
    _ellipse(img, center, (hw + lip * 0.5, gap + lip), style.lips)
    if gap > 0.004 * head_b:
        _ellipse(img, center, (hw * 0.92, gap), style.mouth_inside)
        if m > 0.35:  # upper teeth
            h = img.shape[0]
            _ellipse(img, (center[0], center[1] - gap * 0.6 * min(img.shape[:2]) / h),
                     (hw * 0.6, gap * 0.3), (235, 232, 225), start=0, end=180)
    else:
        _line(img, (center[0] - hw * min(img.shape[:2]) / img.shape[1], center[1]),
              (center[0] + hw * min(img.shape[:2]) / img.shape[1], center[1]), style.mouth_inside, 0.012)


def draw_ball(image: np.ndarray, center: tuple[float, float], radius: float, color: Color,
              squash: float = 0.0) -> np.ndarray:
    """A shaded ball; `squash` 0..1 flattens it (the moment of impact)."""
    s = float(np.clip(squash, 0.0, 1.0)) * 0.35
    rx, ry = radius * (1 + s), radius * (1 - s)
    h, w = image.shape[:2]
    cy = center[1] + (radius - ry) * min(h, w) / h  # keep the bottom on the floor while squashed
    _ellipse(image, (center[0], cy), (rx, ry), color)
    light = tuple(min(255, int(c * 0.5 + 128)) for c in color)
    _ellipse(image, (center[0] - 0.35 * rx * min(h, w) / w, cy - 0.35 * ry * min(h, w) / h),
             (rx * 0.3, ry * 0.3), light)
    return image


def draw_box(image: np.ndarray, center: tuple[float, float], size: float, lid_open: float,
             color: Color) -> np.ndarray:
    """A box with a lid hinged at its back-left corner; `lid_open` 0 shut .. 1 upright."""
    h, w = image.shape[:2]
    half_x, half_y = size * min(h, w) / w / 2, size * min(h, w) / h / 2
    x0, x1, y0, y1 = center[0] - half_x, center[0] + half_x, center[1] - half_y * 0.6, center[1] + half_y
    _poly(image, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], color)
    dark = tuple(int(c * 0.45) for c in color)
    angle = float(np.clip(lid_open, 0.0, 1.0)) * np.pi / 2
    lx, ly = np.cos(angle) * (x1 - x0), np.sin(angle) * (x1 - x0) * w / h
    thick = 0.3 * half_y
    _poly(image, [(x0, y0), (x0 + lx, y0 - ly), (x0 + lx, y0 - ly - thick), (x0, y0 - thick)], dark)
    return image


def draw_door(image: np.ndarray, center: tuple[float, float], size: float, open_amount: float,
              color: Color) -> np.ndarray:
    """A door in a dark frame seen from the front; it swings open (its visible width shrinks)."""
    h, w = image.shape[:2]
    half_x, half_y = 0.5 * size * min(h, w) / w * 0.6, 0.5 * size * min(h, w) / h
    x0, x1, y0, y1 = center[0] - half_x, center[0] + half_x, center[1] - half_y, center[1] + half_y
    _poly(image, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], (25, 22, 20))
    visible = np.cos(float(np.clip(open_amount, 0.0, 1.0)) * np.pi * 0.45)
    xr = x0 + (x1 - x0) * visible
    _poly(image, [(x0, y0), (xr, y0 + 0.04 * (1 - visible)), (xr, y1 - 0.04 * (1 - visible)), (x0, y1)], color)
    _ellipse(image, (x0 + (xr - x0) * 0.85, center[1]), (0.02 * size, 0.02 * size), (220, 200, 80))
    return image


def draw_lamp(image: np.ndarray, center: tuple[float, float], radius: float, brightness: float,
              color: Color = (255, 230, 120)) -> np.ndarray:
    """A bulb on a stand; `brightness` 0 off .. 1 full flash with a glow around it."""
    k = float(np.clip(brightness, 0.0, 1.0))
    h, w = image.shape[:2]
    stem_top = (center[0], center[1] + radius * min(h, w) / h)
    _poly(image, [(stem_top[0] - radius * 0.35 * min(h, w) / w, stem_top[1]),
                  (stem_top[0] + radius * 0.35 * min(h, w) / w, stem_top[1]),
                  (stem_top[0] + radius * 0.35 * min(h, w) / w, stem_top[1] + radius * 0.8 * min(h, w) / h),
                  (stem_top[0] - radius * 0.35 * min(h, w) / w, stem_top[1] + radius * 0.8 * min(h, w) / h)],
          (90, 90, 95))
    if k > 0.02:  # glow: blend a bright disc in proportion to the brightness
        glow = image.copy()
        _ellipse(glow, center, (radius * 2.2, radius * 2.2), color)
        cv2.addWeighted(glow, 0.45 * k, image, 1 - 0.45 * k, 0, dst=image)
    off = np.array((80, 80, 70), dtype=np.float64)
    bulb = tuple(int(v) for v in off + (np.asarray(color, dtype=np.float64) - off) * k)
    _ellipse(image, center, (radius, radius), bulb)
    return image
