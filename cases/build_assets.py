"""Build every case's reference image and reference audio from offline sources only.

    python cases/build_assets.py                  # all 150 cases into cases/assets/<id>/
    python cases/build_assets.py --only sp-003 amb-010 --out /tmp/assets

Speech and complex cases get a drawn portrait of their speaker (SynthAV's face renderer, with
hair, age and beard from the case's `tags.speaker`) in front of their setting, and an espeak-ng
recording of a *different* sentence in the case's language, in a voice matching the speaker: it
is a timbre reference, never the answer. Ambient cases get the scene's main object drawn over
their setting, and a sound texture synthesised for their event types.

Everything is seeded from the case id (crc32), PNGs carry no metadata and use a fixed palette
quantisation, and audio is 16 kHz mono 16-bit PCM of 2.0-2.5 s, so two runs write identical
bytes (tests rebuild a few cases and compare them with the committed files). espeak-ng is called
through `harmony_model.synthav.speech.speak`, with an argument list, never a shell.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import zlib
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SIZE = 256
SR = 16000
AMBIENT_SECONDS = 2.0
SPEECH_SECONDS = (2.0, 2.5)  # cut at the quietest 20 ms inside this window
PNG_COLORS = 96  # palette quantisation keeps a drawn 256x256 image near 3-6 KB

# ---------------------------------------------------------------------------- colours and drawing

COLORS = {
    "black": (25, 25, 28), "dark": (45, 42, 40), "grey": (128, 128, 132), "light_grey": (190, 190, 195),
    "white": (240, 240, 236), "cream": (238, 226, 196), "silver": (200, 204, 210), "steel": (150, 158, 168),
    "glass": (205, 228, 236), "wine": (120, 20, 40), "red": (200, 40, 45), "pink": (236, 130, 160),
    "orange": (235, 125, 35), "yellow": (245, 205, 50), "gold": (212, 170, 60), "bronze": (170, 115, 55),
    "brown": (110, 70, 40), "dark_brown": (70, 45, 28), "wood": (170, 120, 75), "pine": (215, 180, 120),
    "green": (60, 140, 70), "dark_green": (30, 80, 45), "lime": (140, 200, 80), "blue": (50, 90, 170),
    "sky": (150, 195, 235), "navy": (25, 35, 70), "teal": (40, 150, 160), "water": (60, 120, 170),
    "sand": (225, 200, 150), "stone": (150, 145, 135), "marble": (225, 222, 215), "skin": (224, 182, 150),
    "flame": (250, 150, 30), "ember": (220, 60, 20), "felt": (30, 110, 70), "rust": (150, 70, 45),
    "tile": (205, 215, 220), "asphalt": (70, 72, 75), "grass": (95, 160, 75), "snow": (245, 248, 252),
}

_AA = cv2.LINE_AA


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * SIZE)), int(round(y * SIZE))


def _c(name: str) -> tuple[int, int, int]:
    return COLORS[name]


def draw(img: np.ndarray, commands: list[tuple]) -> np.ndarray:
    """Draw a list of shape commands; all coordinates and lengths are fractions of the image side.

    ("rect", x0, y0, x1, y1, colour) | ("ell", cx, cy, rx, ry, colour) | ("poly", points, colour)
    | ("line", x0, y0, x1, y1, width, colour) | ("ring", cx, cy, r, width, colour)
    | ("burst", cx, cy, r, rays, width, colour) | ("grid", x0, y0, x1, y1, columns, rows, colour)
    | ("door", cx, cy, size, colour) | ("ball", cx, cy, r, colour)
    """
    from harmony_model.synthav.render import draw_ball, draw_door

    for kind, *a in commands:
        if kind == "rect":
            cv2.rectangle(img, _pt(a[0], a[1]), _pt(a[2], a[3]), _c(a[4]), -1, _AA)
        elif kind == "ell":
            cv2.ellipse(img, _pt(a[0], a[1]), _pt(a[2], a[3]), 0, 0, 360, _c(a[4]), -1, _AA)
        elif kind == "poly":
            cv2.fillPoly(img, [np.array([_pt(x, y) for x, y in a[0]], np.int32)], _c(a[1]), _AA)
        elif kind == "line":
            cv2.line(img, _pt(a[0], a[1]), _pt(a[2], a[3]), _c(a[5]), max(1, round(a[4] * SIZE)), _AA)
        elif kind == "ring":
            cv2.circle(img, _pt(a[0], a[1]), round(a[2] * SIZE), _c(a[4]), max(1, round(a[3] * SIZE)), _AA)
        elif kind == "burst":
            cx, cy, r, rays, width, colour = a
            for k in range(rays):
                ang = 2 * np.pi * k / rays
                draw(img, [("line", cx + 0.25 * r * np.cos(ang), cy + 0.25 * r * np.sin(ang),
                            cx + r * np.cos(ang), cy + r * np.sin(ang), width, colour)])
        elif kind == "grid":
            x0, y0, x1, y1, cols, rows, colour = a
            w, h = (x1 - x0) / cols, (y1 - y0) / rows
            for i in range(cols):
                for j in range(rows):
                    draw(img, [("rect", x0 + i * w + 0.15 * w, y0 + j * h + 0.15 * h,
                                x0 + (i + 0.85) * w, y0 + (j + 0.85) * h, colour)])
        elif kind == "door":
            draw_door(img, (a[0], a[1]), a[2], 0.0, _c(a[3]))
        elif kind == "ball":
            draw_ball(img, (a[0], a[1]), a[2], _c(a[3]))
        else:
            raise ValueError(f"unknown shape {kind!r}")
    return img


OUTDOOR_WORDS = ("park", "street", "beach", "garden", "farm", "forest", "field", "pitch", "platform", "slope",
                 "harbour", "dock", "yard", "rooftop", "hill", "prairie", "path", "lake", "pond", "clearing",
                 "crossing", "riverside", "market", "site", "court", "playground", "driveway", "porch",
                 "tower", "paddock", "swamp", "stadium", "roadworks", "intersection", "backyard", "trail",
                 "mountain", "hedge", "helipad", "stands")
GROUNDS = (("beach", "sand"), ("sand", "sand"), ("snow", "snow"), ("ski", "snow"), ("street", "asphalt"),
           ("road", "asphalt"), ("platform", "stone"), ("site", "stone"), ("rooftop", "stone"),
           ("court", "teal"), ("dock", "wood"), ("harbour", "water"), ("riverside", "water"),
           ("lake", "water"), ("pond", "water"), ("swamp", "water"), ("crossing", "stone"), ("paddock", "sand"))
WALLS = ((236, 222, 196), (200, 214, 226), (214, 196, 176), (190, 205, 185), (226, 206, 206), (180, 176, 196))
STUDIOS = ((40, 60, 110), (70, 40, 80), (30, 80, 90), (90, 90, 100), (120, 60, 50), (35, 35, 45))


def backdrop(setting: str, rng: np.random.Generator, studio: bool = False) -> np.ndarray:
    """A simple stylised background for a setting: studio, night, outdoors or a room."""
    from harmony_model.synthav.render import canvas

    s = setting.lower()
    if studio:
        return canvas(SIZE, STUDIOS[int(rng.integers(len(STUDIOS)))], gradient=0.35)
    if "night" in s or "storm" in s:
        img = canvas(SIZE, (30, 38, 72), gradient=0.4)
        stars = [("ell", float(x), float(y), 0.006, 0.006, "cream") for x, y in rng.uniform(0.03, 0.5, (7, 2))]
        return draw(img, stars + [("rect", 0.0, 0.78, 1.0, 1.0, "navy")])
    if any(w in s for w in OUTDOOR_WORDS):
        ground = next((g for word, g in GROUNDS if word in s), "grass")
        img = canvas(SIZE, (150, 195, 235), gradient=0.2)
        cloud_x = float(rng.uniform(0.15, 0.7))
        return draw(img, [("ell", cloud_x, 0.14, 0.12, 0.04, "white"), ("ell", cloud_x + 0.08, 0.11, 0.08, 0.04, "white"),
                          ("rect", 0.0, 0.72, 1.0, 1.0, ground)])
    img = canvas(SIZE, WALLS[int(rng.integers(len(WALLS)))], gradient=0.1)
    x = float(rng.uniform(0.05, 0.6))
    feature = ([("rect", x, 0.12, x + 0.3, 0.42, "dark_brown"), ("rect", x + 0.02, 0.14, x + 0.28, 0.4, "sky")]
               if rng.random() < 0.5 else
               [("rect", x, 0.18, x + 0.34, 0.2, "wood"), ("rect", x + 0.03, 0.1, x + 0.08, 0.18, "red"),
                ("rect", x + 0.1, 0.12, x + 0.14, 0.18, "blue"), ("rect", x + 0.16, 0.11, x + 0.2, 0.18, "green")])
    return draw(img, feature + [("rect", 0.0, 0.8, 1.0, 1.0, "wood")])


# Each ambient case's main object as shape commands (tags.object -> drawing).
OBJECTS: dict[str, list[tuple]] = {
    "wine_glass": [("rect", 0, 0.7, 1, 1, "marble"), ("poly", [(0.42, 0.3), (0.58, 0.3), (0.57, 0.44), (0.53, 0.5),
                   (0.47, 0.5), (0.43, 0.44)], "glass"), ("ell", 0.5, 0.44, 0.062, 0.035, "wine"),
                   ("line", 0.5, 0.5, 0.5, 0.66, 0.014, "glass"), ("ell", 0.5, 0.67, 0.06, 0.012, "glass")],
    "front_door": [("door", 0.5, 0.5, 0.62, "wood"), ("rect", 0, 0.82, 1, 1, "dark_brown")],
    "dog": [("line", 0.38, 0.58, 0.38, 0.76, 0.03, "gold"), ("line", 0.6, 0.58, 0.6, 0.76, 0.03, "gold"),
            ("line", 0.32, 0.52, 0.24, 0.42, 0.025, "gold"), ("ell", 0.49, 0.55, 0.17, 0.08, "gold"),
            ("ell", 0.68, 0.42, 0.075, 0.065, "gold"), ("ell", 0.75, 0.45, 0.04, 0.025, "gold"),
            ("ell", 0.79, 0.44, 0.012, 0.01, "black"), ("ell", 0.65, 0.43, 0.025, 0.055, "bronze"),
            ("ell", 0.7, 0.4, 0.008, 0.008, "black")],
    "church_bell": [("rect", 0.18, 0.05, 0.82, 1, "stone"), ("rect", 0.3, 0.3, 0.7, 0.72, "dark"),
                    ("ell", 0.5, 0.3, 0.2, 0.14, "dark"), ("line", 0.3, 0.24, 0.7, 0.24, 0.02, "dark_brown"),
                    ("poly", [(0.43, 0.26), (0.57, 0.26), (0.6, 0.42), (0.67, 0.52), (0.33, 0.52), (0.4, 0.42)],
                     "bronze"), ("ell", 0.5, 0.54, 0.025, 0.025, "dark_brown")],
    "kettle": [("rect", 0, 0.72, 1, 1, "dark"), ("ell", 0.5, 0.72, 0.18, 0.02, "blue"),
               ("ell", 0.5, 0.57, 0.17, 0.13, "red"), ("poly", [(0.63, 0.58), (0.75, 0.44), (0.78, 0.46),
               (0.66, 0.63)], "red"), ("ell", 0.5, 0.44, 0.07, 0.025, "dark"),
               ("line", 0.4, 0.46, 0.44, 0.36, 0.015, "dark"), ("line", 0.44, 0.36, 0.56, 0.36, 0.015, "dark"),
               ("line", 0.56, 0.36, 0.6, 0.46, 0.015, "dark"), ("ell", 0.8, 0.38, 0.04, 0.03, "white"),
               ("ell", 0.84, 0.32, 0.03, 0.025, "white")],
    "campfire": [("ell", 0.5, 0.8, 0.26, 0.05, "stone"), ("line", 0.3, 0.78, 0.68, 0.66, 0.04, "brown"),
                 ("line", 0.32, 0.66, 0.7, 0.78, 0.04, "dark_brown"), ("poly", [(0.38, 0.74), (0.44, 0.48),
                 (0.5, 0.6), (0.56, 0.38), (0.62, 0.74)], "flame"), ("poly", [(0.44, 0.74), (0.5, 0.56),
                 (0.56, 0.74)], "yellow"), ("ell", 0.58, 0.3, 0.006, 0.006, "yellow"),
                 ("ell", 0.44, 0.26, 0.006, 0.006, "ember")],
    "rain_window": [("rect", 0.12, 0.1, 0.88, 0.9, "dark_brown"), ("rect", 0.15, 0.13, 0.85, 0.87, "navy"),
                    ("rect", 0.2, 0.6, 0.3, 0.87, "dark"), ("rect", 0.34, 0.5, 0.44, 0.87, "dark"),
                    ("rect", 0.6, 0.56, 0.74, 0.87, "dark"), ("poly", [(0.55, 0.15), (0.5, 0.33), (0.56, 0.33),
                    (0.49, 0.52), (0.62, 0.28), (0.56, 0.28), (0.61, 0.15)], "cream"),
                    ("line", 0.49, 0.13, 0.49, 0.87, 0.02, "dark_brown"), ("line", 0.25, 0.2, 0.24, 0.35, 0.006, "sky"),
                    ("line", 0.7, 0.3, 0.69, 0.48, 0.006, "sky"), ("line", 0.4, 0.62, 0.39, 0.78, 0.006, "sky")],
    "pendulum_clock": [("rect", 0.37, 0.1, 0.63, 0.9, "wood"), ("ell", 0.5, 0.27, 0.1, 0.1, "cream"),
                       ("line", 0.5, 0.27, 0.5, 0.19, 0.012, "black"), ("line", 0.5, 0.27, 0.56, 0.3, 0.012, "black"),
                       ("rect", 0.42, 0.42, 0.58, 0.84, "dark_brown"), ("line", 0.5, 0.42, 0.53, 0.74, 0.008, "gold"),
                       ("ell", 0.535, 0.76, 0.035, 0.035, "gold")],
    "basketball": [("rect", 0, 0.7, 1, 1, "pine"), ("ball", 0.5, 0.5, 0.14, "orange"),
                   ("line", 0.36, 0.5, 0.64, 0.5, 0.008, "black"), ("line", 0.5, 0.36, 0.5, 0.64, 0.008, "black")],
    "balloon": [("rect", 0.6, 0.6, 0.84, 0.64, "wood"), ("line", 0.62, 0.64, 0.62, 0.85, 0.02, "wood"),
                ("line", 0.82, 0.64, 0.82, 0.85, 0.02, "wood"), ("line", 0.5, 0.52, 0.62, 0.62, 0.005, "light_grey"),
                ("ell", 0.5, 0.35, 0.12, 0.15, "red"), ("poly", [(0.49, 0.5), (0.51, 0.5), (0.5, 0.53)], "red"),
                ("ell", 0.22, 0.42, 0.05, 0.035, "skin"), ("line", 0.26, 0.4, 0.36, 0.37, 0.006, "silver")],
    "taxi": [("rect", 0, 0.72, 1, 1, "asphalt"), ("line", 0.88, 0.2, 0.88, 0.72, 0.015, "dark"),
             ("rect", 0.85, 0.12, 0.91, 0.3, "dark"), ("ell", 0.88, 0.16, 0.02, 0.02, "red"),
             ("poly", [(0.3, 0.52), (0.38, 0.42), (0.62, 0.42), (0.7, 0.52)], "yellow"),
             ("rect", 0.18, 0.52, 0.8, 0.68, "yellow"), ("rect", 0.4, 0.44, 0.6, 0.51, "sky"),
             ("ell", 0.32, 0.69, 0.055, 0.055, "black"), ("ell", 0.66, 0.69, 0.055, 0.055, "black")],
    "hammer": [("rect", 0, 0.66, 1, 1, "wood"), ("rect", 0.2, 0.6, 0.8, 0.68, "pine"),
               ("line", 0.55, 0.6, 0.55, 0.52, 0.01, "steel"), ("line", 0.3, 0.2, 0.58, 0.46, 0.035, "brown"),
               ("poly", [(0.5, 0.46), (0.58, 0.38), (0.68, 0.48), (0.6, 0.56)], "steel")],
    "axe_log": [("rect", 0.32, 0.62, 0.68, 0.9, "brown"), ("ell", 0.5, 0.62, 0.18, 0.04, "pine"),
                ("rect", 0.42, 0.38, 0.58, 0.6, "wood"), ("ell", 0.5, 0.38, 0.08, 0.02, "pine"),
                ("line", 0.2, 0.1, 0.48, 0.34, 0.03, "pine"), ("poly", [(0.44, 0.3), (0.56, 0.24), (0.54, 0.4)], "steel")],
    "ocean_waves": [("ell", 0.5, 0.5, 0.1, 0.1, "orange"), ("rect", 0, 0.5, 1, 0.8, "water"),
                    ("ell", 0.3, 0.56, 0.25, 0.03, "teal"), ("ell", 0.55, 0.66, 0.4, 0.05, "white"),
                    ("rect", 0, 0.78, 1, 1, "sand"), ("line", 0.7, 0.25, 0.74, 0.23, 0.008, "dark"),
                    ("line", 0.74, 0.23, 0.78, 0.25, 0.008, "dark")],
    "sparrow": [("line", 0.1, 0.62, 0.9, 0.58, 0.025, "brown"), ("poly", [(0.34, 0.5), (0.22, 0.56), (0.26, 0.5)],
                "dark_brown"), ("ell", 0.45, 0.5, 0.12, 0.08, "bronze"), ("ell", 0.57, 0.42, 0.06, 0.055, "brown"),
                ("poly", [(0.62, 0.41), (0.68, 0.43), (0.62, 0.45)], "yellow"), ("ell", 0.43, 0.49, 0.07, 0.04, "dark_brown"),
                ("ell", 0.59, 0.41, 0.01, 0.01, "black")],
    "snare_drum": [("rect", 0.3, 0.5, 0.7, 0.68, "red"), ("ell", 0.5, 0.68, 0.2, 0.04, "red"),
                   ("ell", 0.5, 0.5, 0.2, 0.04, "cream"), ("line", 0.3, 0.55, 0.7, 0.55, 0.01, "silver"),
                   ("line", 0.22, 0.3, 0.45, 0.48, 0.015, "pine"), ("line", 0.8, 0.3, 0.56, 0.48, 0.015, "pine")],
    "keyboard": [("rect", 0, 0.62, 1, 1, "dark_brown"), ("rect", 0.18, 0.6, 0.82, 0.78, "dark"),
                 ("grid", 0.2, 0.62, 0.8, 0.74, 12, 3, "grey"), ("rect", 0.36, 0.74, 0.64, 0.77, "grey"),
                 ("line", 0.82, 0.6, 0.82, 0.25, 0.012, "dark"), ("poly", [(0.74, 0.3), (0.88, 0.2), (0.92, 0.28)], "dark"),
                 ("ell", 0.8, 0.33, 0.03, 0.02, "yellow")],
    "cat": [("rect", 0, 0.7, 1, 1, "white"), ("line", 0.32, 0.66, 0.2, 0.56, 0.025, "grey"),
            ("ell", 0.46, 0.58, 0.14, 0.12, "grey"), ("ell", 0.56, 0.38, 0.09, 0.08, "grey"),
            ("poly", [(0.48, 0.34), (0.5, 0.24), (0.54, 0.32)], "grey"),
            ("poly", [(0.58, 0.32), (0.63, 0.24), (0.64, 0.34)], "grey"), ("ell", 0.53, 0.37, 0.015, 0.012, "lime"),
            ("ell", 0.6, 0.37, 0.015, 0.012, "lime"), ("ell", 0.565, 0.43, 0.02, 0.015, "dark")],
    "freight_train": [("line", 0, 0.76, 1, 0.76, 0.01, "steel"), ("rect", 0.02, 0.5, 0.4, 0.72, "rust"),
                      ("rect", 0.43, 0.45, 0.8, 0.72, "blue"), ("rect", 0.7, 0.5, 0.78, 0.58, "sky"),
                      ("ell", 0.1, 0.74, 0.03, 0.03, "black"), ("ell", 0.32, 0.74, 0.03, 0.03, "black"),
                      ("ell", 0.52, 0.74, 0.03, 0.03, "black"), ("ell", 0.72, 0.74, 0.03, 0.03, "black"),
                      ("line", 0.9, 0.4, 0.9, 0.74, 0.012, "grey"), ("line", 0.85, 0.35, 0.95, 0.45, 0.015, "white"),
                      ("line", 0.85, 0.45, 0.95, 0.35, 0.015, "white")],
    "coin": [("rect", 0, 0.5, 1, 1, "wood"), ("ell", 0.52, 0.66, 0.09, 0.02, "dark_brown"),
             ("ell", 0.5, 0.62, 0.09, 0.035, "bronze"), ("ell", 0.5, 0.61, 0.08, 0.03, "gold")],
    "champagne": [("poly", [(0.44, 0.85), (0.44, 0.5), (0.47, 0.4), (0.47, 0.3), (0.53, 0.3), (0.53, 0.4),
                   (0.56, 0.5), (0.56, 0.85)], "dark_green"), ("rect", 0.46, 0.28, 0.54, 0.36, "gold"),
                   ("rect", 0.45, 0.58, 0.55, 0.7, "cream"), ("ell", 0.64, 0.14, 0.03, 0.02, "pine"),
                   ("ell", 0.5, 0.26, 0.05, 0.03, "white"), ("ell", 0.55, 0.22, 0.03, 0.02, "white")],
    "frying_pan": [("rect", 0, 0.55, 1, 1, "dark"), ("line", 0.62, 0.6, 0.92, 0.5, 0.03, "black"),
                   ("ell", 0.42, 0.64, 0.22, 0.11, "black"), ("ell", 0.42, 0.64, 0.11, 0.055, "white"),
                   ("ell", 0.43, 0.63, 0.035, 0.025, "yellow")],
    "rotary_phone": [("rect", 0, 0.7, 1, 1, "wood"), ("poly", [(0.3, 0.72), (0.36, 0.48), (0.64, 0.48),
                     (0.7, 0.72)], "black"), ("ell", 0.5, 0.6, 0.09, 0.06, "cream"), ("ell", 0.5, 0.6, 0.03, 0.02, "black"),
                     ("poly", [(0.3, 0.42), (0.7, 0.42), (0.72, 0.48), (0.28, 0.48)], "black"),
                     ("ell", 0.3, 0.45, 0.05, 0.04, "black"), ("ell", 0.7, 0.45, 0.05, 0.04, "black")],
    "firework": [("rect", 0, 0.72, 1, 1, "water"), ("line", 0.5, 0.72, 0.5, 0.42, 0.006, "orange"),
                 ("burst", 0.5, 0.32, 0.2, 18, 0.008, "red"), ("burst", 0.5, 0.32, 0.1, 12, 0.006, "yellow"),
                 ("rect", 0.05, 0.68, 0.3, 0.72, "dark"), ("rect", 0.7, 0.66, 0.95, 0.72, "dark")],
    "bathroom_tap": [("rect", 0, 0, 1, 1, "tile"), ("grid", 0, 0, 1, 0.55, 6, 4, "white"),
                     ("ell", 0.5, 0.72, 0.28, 0.12, "white"), ("ell", 0.5, 0.7, 0.2, 0.07, "light_grey"),
                     ("rect", 0.46, 0.42, 0.54, 0.5, "silver"), ("line", 0.5, 0.44, 0.58, 0.44, 0.03, "silver"),
                     ("line", 0.57, 0.45, 0.57, 0.7, 0.012, "sky"), ("ell", 0.5, 0.4, 0.04, 0.015, "steel")],
    "leather_shoes": [("poly", [(0, 1), (0, 0.8), (0.25, 0.8), (0.25, 0.62), (0.5, 0.62), (0.5, 0.44), (0.75, 0.44),
                      (0.75, 0.26), (1, 0.26), (1, 1)], "wood"), ("poly", [(0.3, 0.62), (0.3, 0.54), (0.38, 0.54),
                      (0.46, 0.6), (0.46, 0.62)], "dark_brown"), ("poly", [(0.52, 0.44), (0.52, 0.36), (0.6, 0.36),
                      (0.7, 0.42), (0.7, 0.44)], "dark_brown")],
    "wind_chimes": [("rect", 0, 0, 1, 0.12, "wood"), ("ell", 0.5, 0.22, 0.16, 0.02, "wood"),
                    ("line", 0.5, 0.12, 0.5, 0.22, 0.004, "dark"), ("rect", 0.36, 0.26, 0.385, 0.6, "silver"),
                    ("rect", 0.43, 0.26, 0.455, 0.68, "silver"), ("rect", 0.5, 0.26, 0.525, 0.74, "silver"),
                    ("rect", 0.57, 0.26, 0.595, 0.64, "silver"), ("rect", 0.64, 0.26, 0.665, 0.56, "silver"),
                    ("ell", 0.51, 0.6, 0.03, 0.012, "wood")],
    "paper_ball": [("rect", 0, 0.72, 1, 1, "wood"), ("poly", [(0.62, 0.72), (0.6, 0.42), (0.86, 0.42), (0.84, 0.72)],
                   "steel"), ("ell", 0.73, 0.42, 0.13, 0.02, "dark"), ("ell", 0.36, 0.5, 0.09, 0.08, "white"),
                   ("line", 0.3, 0.47, 0.4, 0.52, 0.006, "light_grey"), ("line", 0.34, 0.56, 0.42, 0.46, 0.006, "light_grey")],
    "horse": [("line", 0, 0.58, 1, 0.58, 0.012, "white"), ("line", 0.38, 0.56, 0.36, 0.8, 0.03, "brown"),
              ("line", 0.64, 0.56, 0.66, 0.8, 0.03, "brown"), ("ell", 0.5, 0.52, 0.18, 0.09, "brown"),
              ("poly", [(0.3, 0.5), (0.22, 0.3), (0.28, 0.26), (0.38, 0.46)], "brown"),
              ("ell", 0.21, 0.3, 0.06, 0.035, "brown"), ("line", 0.68, 0.48, 0.78, 0.62, 0.02, "dark_brown"),
              ("line", 0.26, 0.27, 0.35, 0.45, 0.015, "dark_brown")],
    "chainsaw": [("rect", 0.05, 0.62, 0.95, 0.8, "brown"), ("ell", 0.05, 0.71, 0.03, 0.09, "pine"),
                 ("rect", 0.22, 0.36, 0.46, 0.56, "orange"), ("rect", 0.46, 0.44, 0.78, 0.5, "steel"),
                 ("line", 0.24, 0.36, 0.34, 0.28, 0.015, "dark"), ("ell", 0.6, 0.6, 0.02, 0.015, "pine"),
                 ("ell", 0.7, 0.56, 0.015, 0.01, "pine")],
    "ice_glass": [("rect", 0, 0.72, 1, 1, "dark_brown"), ("rect", 0.4, 0.34, 0.6, 0.72, "glass"),
                  ("rect", 0.43, 0.56, 0.49, 0.62, "sky"), ("rect", 0.5, 0.6, 0.56, 0.66, "sky"),
                  ("rect", 0.45, 0.64, 0.51, 0.7, "sky"), ("rect", 0.48, 0.2, 0.54, 0.26, "sky")],
    "lone_tree": [("rect", 0, 0, 1, 0.3, "grey"), ("ell", 0.3, 0.12, 0.25, 0.08, "dark"),
                  ("ell", 0.75, 0.15, 0.3, 0.09, "dark"), ("rect", 0.72, 0.52, 0.75, 0.72, "dark_brown"),
                  ("ell", 0.735, 0.48, 0.07, 0.06, "dark_green"), ("poly", [(0.62, 0.2), (0.66, 0.32), (0.63, 0.32),
                  (0.7, 0.45), (0.66, 0.33), (0.69, 0.33), (0.65, 0.2)], "cream")],
    "bicycle": [("ring", 0.3, 0.62, 0.11, 0.012, "black"), ("ring", 0.7, 0.62, 0.11, 0.012, "black"),
                ("line", 0.3, 0.62, 0.45, 0.46, 0.012, "blue"), ("line", 0.45, 0.46, 0.62, 0.46, 0.012, "blue"),
                ("line", 0.62, 0.46, 0.7, 0.62, 0.012, "blue"), ("line", 0.45, 0.46, 0.5, 0.62, 0.012, "blue"),
                ("line", 0.5, 0.62, 0.3, 0.62, 0.012, "blue"), ("line", 0.62, 0.46, 0.6, 0.38, 0.012, "dark"),
                ("line", 0.55, 0.38, 0.66, 0.38, 0.012, "dark"), ("ell", 0.64, 0.36, 0.015, 0.015, "silver")],
    "office_door": [("door", 0.5, 0.5, 0.64, "steel"), ("rect", 0.44, 0.26, 0.56, 0.5, "glass"),
                    ("rect", 0, 0.82, 1, 1, "grey")],
    "pond_stone": [("ell", 0.5, 0.7, 0.45, 0.16, "water"), ("ring", 0.5, 0.7, 0.06, 0.006, "sky"),
                   ("ring", 0.5, 0.7, 0.12, 0.006, "sky"), ("ell", 0.5, 0.42, 0.03, 0.022, "stone"),
                   ("line", 0.1, 0.62, 0.12, 0.45, 0.008, "dark_green"), ("line", 0.9, 0.62, 0.88, 0.42, 0.008, "dark_green")],
    "typewriter": [("rect", 0, 0.72, 1, 1, "wood"), ("rect", 0.36, 0.22, 0.64, 0.46, "white"),
                   ("rect", 0.2, 0.42, 0.8, 0.5, "black"), ("poly", [(0.24, 0.5), (0.76, 0.5), (0.82, 0.74),
                   (0.18, 0.74)], "dark_green"), ("grid", 0.26, 0.56, 0.74, 0.7, 10, 3, "cream"),
                   ("line", 0.8, 0.44, 0.88, 0.38, 0.012, "silver")],
    "popcorn_pot": [("rect", 0, 0.75, 1, 1, "dark"), ("rect", 0.28, 0.45, 0.72, 0.75, "steel"),
                    ("ell", 0.5, 0.45, 0.22, 0.04, "glass"), ("ell", 0.42, 0.52, 0.03, 0.025, "cream"),
                    ("ell", 0.55, 0.5, 0.03, 0.025, "cream"), ("ell", 0.49, 0.4, 0.03, 0.025, "cream"),
                    ("line", 0.5, 0.41, 0.5, 0.37, 0.02, "dark")],
    "hair_dryer": [("rect", 0, 0.66, 1, 1, "marble"), ("rect", 0.55, 0.6, 0.95, 0.7, "teal"),
                   ("ell", 0.4, 0.44, 0.13, 0.08, "pink"), ("rect", 0.5, 0.41, 0.64, 0.48, "pink"),
                   ("poly", [(0.34, 0.48), (0.42, 0.48), (0.4, 0.66), (0.34, 0.66)], "pink"),
                   ("ell", 0.28, 0.44, 0.02, 0.07, "dark")],
    "jackhammer": [("rect", 0, 0.76, 1, 1, "asphalt"), ("rect", 0.44, 0.3, 0.56, 0.62, "yellow"),
                   ("line", 0.34, 0.28, 0.66, 0.28, 0.02, "dark"), ("line", 0.5, 0.62, 0.5, 0.78, 0.015, "steel"),
                   ("ell", 0.4, 0.76, 0.06, 0.03, "light_grey"), ("ell", 0.6, 0.74, 0.05, 0.025, "light_grey")],
    "ducks": [("rect", 0, 0.68, 1, 1, "water"), ("ell", 0.22, 0.62, 0.08, 0.05, "bronze"), ("ell", 0.28, 0.53, 0.035, 0.035, "dark_green"),
              ("poly", [(0.31, 0.53), (0.36, 0.545), (0.31, 0.555)], "orange"), ("ell", 0.5, 0.62, 0.08, 0.05, "bronze"),
              ("ell", 0.56, 0.53, 0.035, 0.035, "dark_green"), ("poly", [(0.59, 0.53), (0.64, 0.545), (0.59, 0.555)], "orange"),
              ("ell", 0.78, 0.62, 0.08, 0.05, "bronze"), ("ell", 0.84, 0.53, 0.035, 0.035, "dark_green"),
              ("poly", [(0.87, 0.53), (0.92, 0.545), (0.87, 0.555)], "orange")],
    "ping_pong": [("rect", 0.05, 0.55, 0.95, 0.7, "felt"), ("line", 0.5, 0.55, 0.5, 0.7, 0.006, "white"),
                  ("rect", 0.49, 0.46, 0.51, 0.55, "white"), ("ell", 0.14, 0.4, 0.06, 0.07, "red"),
                  ("line", 0.14, 0.47, 0.12, 0.55, 0.02, "wood"), ("ell", 0.86, 0.4, 0.06, 0.07, "black"),
                  ("line", 0.86, 0.47, 0.88, 0.55, 0.02, "wood"), ("ell", 0.62, 0.36, 0.012, 0.012, "white")],
    "keys_lock": [("door", 0.5, 0.5, 0.7, "brown"), ("ring", 0.3, 0.52, 0.03, 0.008, "gold"),
                  ("line", 0.32, 0.54, 0.4, 0.6, 0.012, "gold"), ("line", 0.3, 0.55, 0.3, 0.66, 0.012, "silver")],
    "ambulance": [("rect", 0.12, 0.44, 0.82, 0.7, "white"), ("rect", 0.82, 0.52, 0.92, 0.7, "white"),
                  ("rect", 0.83, 0.54, 0.9, 0.6, "sky"), ("rect", 0.12, 0.58, 0.92, 0.62, "red"),
                  ("rect", 0.4, 0.48, 0.46, 0.56, "red"), ("rect", 0.38, 0.5, 0.48, 0.54, "red"),
                  ("ell", 0.3, 0.42, 0.03, 0.02, "blue"), ("ell", 0.7, 0.42, 0.03, 0.02, "red"),
                  ("ell", 0.28, 0.71, 0.05, 0.05, "black"), ("ell", 0.76, 0.71, 0.05, 0.05, "black")],
    "helicopter": [("ring", 0.5, 0.82, 0.12, 0.01, "yellow"), ("ell", 0.45, 0.42, 0.14, 0.09, "red"),
                   ("ell", 0.4, 0.4, 0.06, 0.05, "sky"), ("line", 0.57, 0.42, 0.85, 0.36, 0.02, "red"),
                   ("line", 0.85, 0.3, 0.85, 0.42, 0.01, "dark"), ("line", 0.15, 0.3, 0.8, 0.3, 0.012, "dark"),
                   ("line", 0.45, 0.33, 0.45, 0.3, 0.015, "dark"), ("line", 0.3, 0.56, 0.6, 0.56, 0.01, "dark")],
    "bowling_pins": [("poly", [(0.35, 1), (0.45, 0.35), (0.55, 0.35), (0.65, 1)], "pine"),
                     ("ell", 0.46, 0.36, 0.018, 0.04, "white"), ("ell", 0.5, 0.37, 0.018, 0.04, "white"),
                     ("ell", 0.54, 0.36, 0.018, 0.04, "white"), ("ell", 0.48, 0.4, 0.018, 0.04, "white"),
                     ("ell", 0.52, 0.4, 0.018, 0.04, "white"), ("ell", 0.5, 0.44, 0.018, 0.04, "white"),
                     ("ball", 0.5, 0.8, 0.07, "blue")],
    "snow_boots": [("rect", 0.6, 0.4, 0.9, 0.72, "brown"), ("poly", [(0.56, 0.42), (0.75, 0.26), (0.94, 0.42)], "dark_brown"),
                   ("rect", 0.7, 0.56, 0.78, 0.72, "dark_brown"), ("ell", 0.2, 0.86, 0.03, 0.015, "light_grey"),
                   ("ell", 0.3, 0.82, 0.03, 0.015, "light_grey"), ("poly", [(0.38, 0.8), (0.38, 0.68), (0.44, 0.68),
                   (0.5, 0.78), (0.5, 0.8)], "black")],
    "referee_whistle": [("line", 0, 0.8, 1, 0.8, 0.008, "white"), ("line", 0.5, 0.12, 0.44, 0.42, 0.006, "red"),
                        ("ell", 0.46, 0.5, 0.09, 0.07, "silver"), ("rect", 0.53, 0.46, 0.68, 0.52, "silver"),
                        ("ell", 0.44, 0.48, 0.03, 0.025, "steel")],
    "punching_bag": [("line", 0.5, 0, 0.5, 0.18, 0.01, "steel"), ("rect", 0.38, 0.2, 0.62, 0.74, "red"),
                     ("ell", 0.5, 0.2, 0.12, 0.03, "dark"), ("ell", 0.5, 0.74, 0.12, 0.03, "red"),
                     ("ell", 0.28, 0.5, 0.07, 0.06, "blue"), ("rect", 0, 0.86, 1, 1, "dark")],
    "frog": [("ell", 0.5, 0.72, 0.3, 0.08, "green"), ("poly", [(0.5, 0.72), (0.8, 0.66), (0.8, 0.72)], "water"),
             ("ell", 0.48, 0.6, 0.12, 0.08, "lime"), ("ell", 0.42, 0.52, 0.03, 0.03, "lime"), ("ell", 0.54, 0.52, 0.03, 0.03, "lime"),
             ("ell", 0.42, 0.52, 0.012, 0.012, "black"), ("ell", 0.54, 0.52, 0.012, 0.012, "black"),
             ("ell", 0.48, 0.65, 0.06, 0.04, "cream")],
    "blender": [("rect", 0, 0.78, 1, 1, "marble"), ("rect", 0.38, 0.64, 0.62, 0.78, "dark"),
                ("poly", [(0.38, 0.22), (0.62, 0.22), (0.6, 0.64), (0.4, 0.64)], "glass"),
                ("poly", [(0.395, 0.4), (0.605, 0.4), (0.6, 0.64), (0.4, 0.64)], "pink"), ("rect", 0.37, 0.18, 0.63, 0.22, "dark"),
                ("ell", 0.5, 0.71, 0.02, 0.02, "red")],
}


# ---------------------------------------------------------------------------- portraits

def _speaker_traits(speaker: str) -> dict:
    s = speaker.lower()
    return {"female": "woman" in s or "girl" in s, "elderly": "elderly" in s,
            "child": s in ("boy", "girl"), "teen": "teenage" in s, "beard": "beard" in s}


def portrait(case: dict, rng: np.random.Generator, seed: int) -> np.ndarray:
    """The speaker's face, shoulders and hair over the case's setting (a studio for synthetic speech)."""
    from harmony_model.synthav.render import FaceStyle, draw_face

    tags = case["tags"]
    traits = _speaker_traits(tags["speaker"])
    studio = case["subset"] == "speech" and case.get("source") == "synthetic"
    img = backdrop(tags["setting"], rng, studio=studio)
    style = FaceStyle.from_seed(seed)
    if traits["elderly"]:
        style = dataclasses.replace(style, hair=((205, 205, 205), (165, 165, 168))[seed % 2])
    elif len(set(style.hair)) == 1:  # from_seed can pick grey hair; keep grey for the elderly
        style = dataclasses.replace(style, hair=(60, 40, 28))
    # a complex scene shows more of its setting around the speaker
    adult = 0.7 if case["subset"] == "complex" else 0.82
    scale = adult * (0.75 if traits["child"] else 0.88 if traits["teen"] else 1.0)
    cy = 0.5 + (1 - scale) * 0.35
    shirt = tuple(int(c) for c in rng.integers(40, 220, 3))
    cv2.ellipse(img, _pt(0.5, 1.02), _pt(0.36 * scale + 0.04, 0.22), 0, 180, 360, shirt, -1, _AA)
    if traits["female"]:  # long hair falls behind the shoulders
        cv2.ellipse(img, _pt(0.5, cy + 0.08), _pt(0.34 * scale, 0.42 * scale), 0, 0, 360, style.hair, -1, _AA)
    draw_face(SIZE, 0.0, style, image=img, center=(0.5, cy), scale=scale)
    a, b = style.width * scale, style.height * scale  # head half-axes, as draw_face uses them
    if traits["beard"]:  # below the mouth (at 0.52 b), so lip movement stays visible
        cv2.ellipse(img, _pt(0.5, cy + 0.7 * b), _pt(0.8 * a, 0.3 * b), 0, 0, 180, style.hair, -1, _AA)
    if traits["elderly"]:  # forehead lines between the fringe and the eyebrows
        for dy in (0.0, 0.06 * b):
            y = cy - 0.5 * b + dy
            cv2.line(img, _pt(0.44, y), _pt(0.56, y), tuple(int(c * 0.8) for c in style.skin), 1, _AA)
    return img


def ambient_image(case: dict, rng: np.random.Generator) -> np.ndarray:
    return draw(backdrop(case["tags"]["setting"], rng), OBJECTS[case["tags"]["object"]])


# ---------------------------------------------------------------------------- speech references

# Reference sentences: everyday lines that appear in no case transcript (checked in build).
REFERENCE_EN = (
    "The weather was calm on the way over here.", "I keep all my old letters in a box.",
    "We should paint the fence before summer.", "My neighbour grows enormous pumpkins.",
    "The library closes early on Sundays.", "She left her umbrella on the bus.",
    "Our cat sleeps on the warm windowsill.", "I like my tea with a little honey.",
    "The bakery on the corner sells fresh rolls.", "He fixed the old radio last weekend.",
    "There is a bright blue kite in the sky.", "Please water the plants on Thursday.",
)
REFERENCE_ZH = ("今天天气很好。", "我喜欢喝绿茶。", "他每天骑车上班。", "这本书很有意思。",
                "我们周末去爬山。", "窗外下着小雨。", "晚饭吃饺子吧。", "她住在湖边。")


def voice_for(speaker: str, language: str, seed: int) -> tuple[str, int, int]:
    """(espeak-ng voice with variant, words per minute, pitch 0-99) matching the speaker."""
    t = _speaker_traits(speaker)
    base = "cmn" if language == "zh" else ("en-us", "en-gb")[seed % 2]
    if t["female"]:
        variant, pitch = ("f1", "f2", "f3", "f4")[seed % 4], 55
    else:
        variant, pitch = ("m1", "m2", "m3", "m4", "m6")[seed % 5], 40
    if t["elderly"]:
        variant, pitch, rate = ("aunty" if t["female"] else "grandpa"), pitch - 10, 135
    else:
        rate = 160 + seed % 20
    if t["child"]:
        variant, pitch = ("f5" if t["female"] else "m3"), 85
    elif t["teen"]:
        pitch += 12
    return f"{base}+{variant}", rate, pitch + seed % 7


def speech_reference(case: dict, seed: int) -> np.ndarray:
    from scipy.signal import resample_poly

    from harmony_model.synthav.speech import speak

    language = case["language"]
    pool = REFERENCE_ZH if language == "zh" else REFERENCE_EN
    text = pool[seed % len(pool)]
    if text in (case.get("spoken_word_en"), case.get("spoken_word_zh")):
        raise ValueError(f"{case['id']}: the reference sentence equals the target transcript")
    voice, rate, pitch = voice_for(case["tags"]["speaker"], language, seed)
    wave, native_sr = speak(text, voice, rate=rate, pitch=pitch, sample_rate=22050)
    # scipy's polyphase filter (not torch) so the bytes do not depend on thread count or CPU kernels
    wave = resample_poly(wave.astype(np.float64), SR, native_sr)
    return _cut(wave / (np.abs(wave).max() + 1e-9) * 0.8)


def _cut(wave: np.ndarray) -> np.ndarray:
    """Trim leading silence, then end at the quietest 20 ms inside SPEECH_SECONDS (pad if short)."""
    loud = np.flatnonzero(np.abs(wave) > 0.02)
    wave = wave[max(0, loud[0] - int(0.05 * SR)):] if len(loud) else wave
    lo, hi, hop = int(SPEECH_SECONDS[0] * SR), int(SPEECH_SECONDS[1] * SR), int(0.02 * SR)
    if len(wave) <= lo:
        return np.pad(wave, (0, lo - len(wave)))
    starts = np.arange(lo, min(hi, len(wave) - hop) + 1, hop)
    if len(starts) == 0:
        return wave[:hi]
    end = int(starts[np.argmin([np.mean(wave[s:s + hop] ** 2) for s in starts])]) + hop
    fade = np.linspace(1.0, 0.0, hop)
    out = wave[:end].copy()
    out[-hop:] *= fade
    return out


# ---------------------------------------------------------------------------- ambient textures

def _t(n: int) -> np.ndarray:
    return np.arange(n) / SR


def _band(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(2, [lo, min(hi, SR / 2 - 100)], btype="bandpass", fs=SR, output="sos")
    x = sosfilt(sos, rng.standard_normal(n))
    return x / (np.abs(x).max() + 1e-9)


def _add(track: np.ndarray, burst: np.ndarray, at: float, gain: float = 1.0) -> None:
    start = int(round(at * SR))
    k = min(len(burst), len(track) - start)
    if k > 0:
        track[start:start + k] += gain * burst[:k]


def hits(rng, n, times, freq=200.0, decay=0.06, noise=0.5, band=(300, 4000)):
    """Struck objects: a decaying sine at `freq` plus a band-noise transient at each time."""
    out = np.zeros(n)
    m = int(6 * decay * SR)
    t = _t(m)
    for at in times:
        burst = np.sin(2 * np.pi * freq * t) * np.exp(-t / decay) + noise * _band(rng, m, *band) * np.exp(-t / (decay / 3))
        _add(out, burst, at)
    return out


def rings(rng, n, times, freq=800.0, decay=0.5, partials=(1.0, 2.76, 5.4)):
    """Bells, chimes and clinks: inharmonic partials with exponential decay."""
    out = np.zeros(n)
    t = _t(n)
    for at in times:
        burst = sum(np.sin(2 * np.pi * freq * p * t + rng.uniform(0, 6.28)) * np.exp(-t * p / decay) / (1 + i)
                    for i, p in enumerate(partials))
        _add(out, burst, at)
    return out


def tone(rng, n, start=0.0, stop=2.0, f0=440.0, f1=None, harmonics=4, vibrato=0.0, tremolo=0.0):
    """Sustained voiced or tonal sound gliding from f0 to f1 (horns, whistles, sirens, calls)."""
    t = _t(n)
    on = (t >= start) & (t < stop)
    f = np.where(on, f0 + ((f1 or f0) - f0) * np.clip((t - start) / max(stop - start, 1e-3), 0, 1), 0)
    f = f * (1 + vibrato * np.sin(2 * np.pi * 6 * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    wave = sum(np.sin(k * phase) / k for k in range(1, harmonics + 1))
    env = on * np.clip(np.minimum(t - start, stop - t) / 0.02, 0, 1)
    if tremolo:
        env = env * (0.6 + 0.4 * np.sign(np.sin(2 * np.pi * tremolo * t)))
    return wave * env


def bed(rng, n, lo=200.0, hi=4000.0, swell=0.0, depth=0.0, start=0.0, stop=None):
    """Continuous band-limited noise (rain, wind, surf, sizzle) with an optional slow swell."""
    t = _t(n)
    env = 1 - depth * (0.5 + 0.5 * np.cos(2 * np.pi * swell * t)) if swell else np.ones(n)
    gate = (t >= start) & (t < (stop if stop is not None else n / SR + 1))
    return _band(rng, n, lo, hi) * env * gate


def grains(rng, n, rate=20.0, lo=1000.0, hi=6000.0, decay=0.004, start=0.0, stop=None):
    """Random short clicks or pings at a Poisson `rate` per second (crackle, typing, shards, drops)."""
    out = np.zeros(n)
    span = (stop if stop is not None else n / SR) - start
    m = int(8 * decay * SR) + 1
    t = _t(m)
    for at in np.sort(rng.uniform(start, start + span, rng.poisson(rate * span))):
        freq = rng.uniform(lo, hi)
        _add(out, np.sin(2 * np.pi * freq * t) * np.exp(-t / decay), at, rng.uniform(0.3, 1.0))
    return out


def pulses(rng, n, f0=60.0, rate=8.0, harmonics=6, noise=0.3, start=0.0, stop=None):
    """Motors and engines: a harmonic buzz with amplitude pulses at `rate` Hz (drills, rotors)."""
    t = _t(n)
    buzz = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, harmonics + 1)) + noise * _band(rng, n, 100, 3000)
    env = 0.55 + 0.45 * np.sin(2 * np.pi * rate * t) if rate else np.ones(n)
    gate = (t >= start) & (t < (stop if stop is not None else n / SR + 1))
    return buzz * env * gate


# event type -> list of (generator, parameters); every ambient event type has a recipe
TEXTURES: dict[str, list[tuple]] = {
    "glass_slide": [(bed, dict(lo=2000, hi=6000, stop=0.6))],
    "glass_shatter": [(hits, dict(times=[0.8], freq=3000, decay=0.05, band=(2000, 7500))),
                      (grains, dict(rate=60, lo=3000, hi=7000, decay=0.02, start=0.8, stop=1.5))],
    "knock": [(hits, dict(times=[0.3, 0.8, 1.3], freq=170, decay=0.05, band=(200, 1500)))],
    "dog_bark": [(tone, dict(start=0.2, stop=0.45, f0=520, f1=380, harmonics=8)),
                 (tone, dict(start=1.2, stop=1.45, f0=540, f1=360, harmonics=8))],
    "bird_chirp": [(tone, dict(start=s, stop=s + 0.08, f0=3500, f1=5200, harmonics=1)) for s in (0.2, 0.35, 0.5, 1.3, 1.45)],
    "gull_call": [(tone, dict(start=0.6, stop=1.1, f0=1400, f1=900, harmonics=5, vibrato=0.04))],
    "wing_flap": [(hits, dict(times=[1.4, 1.5, 1.6, 1.7], freq=90, decay=0.02, band=(300, 2500)))],
    "bell_ring": [(rings, dict(times=[0.1, 1.1], freq=220, decay=1.2))],
    "chime": [(rings, dict(times=[0.3, 0.7, 1.0, 1.5], freq=1320, decay=0.6))],
    "boiling": [(bed, dict(lo=80, hi=900)), (grains, dict(rate=25, lo=200, hi=700, decay=0.01))],
    "kettle_whistle": [(tone, dict(start=0.6, stop=2.0, f0=2200, f1=2500, harmonics=1, vibrato=0.01))],
    "fire_crackle": [(bed, dict(lo=100, hi=1200)), (grains, dict(rate=30, lo=1500, hi=6000, decay=0.003))],
    "rain": [(bed, dict(lo=1500, hi=7000)), (grains, dict(rate=80, lo=2000, hi=6000, decay=0.002))],
    "thunder": [(bed, dict(lo=30, hi=250, swell=0.4, depth=0.8))],
    "clock_tick": [(hits, dict(times=[0.1, 0.6, 1.1, 1.6], freq=2500, decay=0.006, band=(2000, 6000)))],
    "ball_bounce": [(hits, dict(times=[0.1, 0.8, 1.3, 1.65], freq=140, decay=0.05, band=(200, 2000)))],
    "balloon_pop": [(hits, dict(times=[0.5], freq=300, decay=0.02, noise=2.0, band=(300, 7000)))],
    "engine": [(pulses, dict(f0=38, rate=0, harmonics=8, noise=0.2))],
    "car_horn": [(tone, dict(start=0.7, stop=0.95, f0=420, harmonics=6)), (tone, dict(start=1.1, stop=1.35, f0=420, harmonics=6))],
    "hammer": [(hits, dict(times=[0.1, 0.9, 1.7], freq=2100, decay=0.08, band=(400, 5000)))],
    "wood_chop": [(hits, dict(times=[0.2], freq=110, decay=0.08, band=(200, 2000))),
                  (hits, dict(times=[1.2], freq=600, decay=0.05, noise=1.2, band=(800, 6000)))],
    "waves": [(bed, dict(lo=100, hi=3000, swell=0.5, depth=0.85))],
    "drum_hit": [(hits, dict(times=[0.1, 0.6, 1.1, 1.6], freq=190, decay=0.07, noise=1.0, band=(1500, 7000)))],
    "typing": [(grains, dict(rate=14, lo=1800, hi=3500, decay=0.006))],
    "cat_meow": [(tone, dict(start=0.4, stop=1.3, f0=480, f1=820, harmonics=7, vibrato=0.03))],
    "train": [(pulses, dict(f0=45, rate=3, harmonics=6, noise=0.6))],
    "train_horn": [(tone, dict(start=0.3, stop=1.3, f0=311, harmonics=5)), (tone, dict(start=0.3, stop=1.3, f0=370, harmonics=5))],
    "coin_drop": [(rings, dict(times=[0.1], freq=3200, decay=0.3)), (grains, dict(rate=30, lo=2500, hi=4500, decay=0.01, start=0.3, stop=1.6))],
    "cork_pop": [(hits, dict(times=[0.3], freq=700, decay=0.015, noise=1.5, band=(500, 5000)))],
    "fizz": [(grains, dict(rate=200, lo=3000, hi=7500, decay=0.0015, start=0.4))],
    "egg_crack": [(hits, dict(times=[0.15], freq=1200, decay=0.01, noise=1.5, band=(1000, 6000)))],
    "sizzle": [(bed, dict(lo=3000, hi=7800, start=0.3)), (grains, dict(rate=40, lo=4000, hi=7000, decay=0.002, start=0.3))],
    "phone_ring": [(rings, dict(times=list(np.arange(0.1, 0.9, 0.05)), freq=1100, decay=0.1, partials=(1.0, 2.0)))],
    "rocket_whistle": [(tone, dict(start=0.0, stop=0.8, f0=900, f1=2600, harmonics=1))],
    "firework": [(bed, dict(lo=30, hi=300, start=0.8, stop=1.4)), (grains, dict(rate=60, lo=2000, hi=6000, decay=0.003, start=0.9))],
    "tap_squeak": [(tone, dict(start=0.05, stop=0.25, f0=900, f1=1300, harmonics=3))],
    "water_run": [(bed, dict(lo=400, hi=5000, start=0.3, stop=1.7)), (grains, dict(rate=50, lo=600, hi=2500, decay=0.01, start=0.3, stop=1.7))],
    "footsteps": [(hits, dict(times=[0.1, 0.45, 0.8, 1.15, 1.5, 1.85], freq=120, decay=0.03, band=(300, 3000)))],
    "creak": [(pulses, dict(f0=70, rate=0, harmonics=10, noise=0.1, start=0.1, stop=0.6))],
    "wind": [(bed, dict(lo=150, hi=900, swell=0.7, depth=0.6))],
    "paper_rustle": [(bed, dict(lo=1500, hi=7000, swell=4, depth=0.9, stop=1.4))],
    "metal_clang": [(rings, dict(times=[1.6], freq=600, decay=0.4))],
    "hoofbeats": [(hits, dict(times=[0.1, 0.35, 0.6, 0.85, 1.1, 1.35], freq=100, decay=0.035, band=(200, 1500)))],
    "horse_neigh": [(tone, dict(start=1.4, stop=1.95, f0=700, f1=500, harmonics=6, vibrato=0.12))],
    "engine_start": [(grains, dict(rate=40, lo=200, hi=600, decay=0.01, stop=0.5))],
    "saw": [(pulses, dict(f0=130, rate=0, harmonics=10, noise=0.4, start=0.5))],
    "ice_clink": [(rings, dict(times=[0.2, 0.6, 1.0], freq=2800, decay=0.08))],
    "tyre_roll": [(bed, dict(lo=80, hi=1500))],
    "bicycle_bell": [(rings, dict(times=[0.9, 1.1], freq=2400, decay=0.3, partials=(1.0, 2.4)))],
    "door_slam": [(hits, dict(times=[1.0], freq=75, decay=0.12, noise=1.0, band=(100, 2500)))],
    "frog_croak": [(pulses, dict(f0=110, rate=22, harmonics=6, noise=0.0, start=0.4, stop=0.8)),
                   (pulses, dict(f0=110, rate=22, harmonics=6, noise=0.0, start=1.4, stop=1.8))],
    "splash": [(hits, dict(times=[0.9], freq=90, decay=0.1, noise=1.5, band=(300, 5000)))],
    "carriage_return": [(grains, dict(rate=50, lo=1500, hi=2500, decay=0.004, start=1.5))],
    "popping": [(hits, dict(times=sorted(float(x) for x in np.geomspace(0.1, 1.9, 14)), freq=500, decay=0.01,
                            noise=1.2, band=(400, 4000)))],
    "motor_hum": [(pulses, dict(f0=210, rate=0, harmonics=5, noise=0.8, start=0.4, stop=1.6))],
    "drilling": [(pulses, dict(f0=60, rate=25, harmonics=8, noise=0.8, stop=0.8)),
                 (pulses, dict(f0=60, rate=25, harmonics=8, noise=0.8, start=1.3))],
    "duck_quack": [(tone, dict(start=s, stop=s + 0.18, f0=330, f1=280, harmonics=12)) for s in (0.1, 0.45, 0.8)],
    "water_lap": [(bed, dict(lo=200, hi=1500, swell=1.2, depth=0.8))],
    "ball_hit": [(hits, dict(times=list(np.arange(0.1, 2.0, 0.24)), freq=1800, decay=0.01, band=(1000, 5000)))],
    "keys_jingle": [(grains, dict(rate=45, lo=3500, hi=7000, decay=0.02, stop=1.3))],
    "lock_click": [(hits, dict(times=[1.7], freq=2200, decay=0.01, band=(1500, 6000)))],
    "siren": [(tone, dict(start=0.0, stop=1.0, f0=700, f1=1300, harmonics=3)), (tone, dict(start=1.0, stop=2.0, f0=1200, f1=600, harmonics=3))],
    "rotor": [(pulses, dict(f0=30, rate=11, harmonics=4, noise=1.0))],
    "rolling": [(bed, dict(lo=40, hi=400, stop=1.5))],
    "pin_crash": [(hits, dict(times=[1.5, 1.53, 1.58, 1.62, 1.7], freq=900, decay=0.05, noise=1.0, band=(500, 6000)))],
    "snow_crunch": [(grains, dict(rate=120, lo=800, hi=4000, decay=0.003, start=s, stop=s + 0.25)) for s in (0.2, 1.2)],
    "whistle": [(tone, dict(start=0.05, stop=0.9, f0=3000, harmonics=2, tremolo=30))],
    "crowd": [(bed, dict(lo=250, hi=2500, swell=3.0, depth=0.4))],
    "punch": [(hits, dict(times=[0.2, 0.6, 1.1], freq=80, decay=0.05, band=(150, 1500)))],
    "chain_creak": [(pulses, dict(f0=90, rate=0, harmonics=8, noise=0.1, start=1.3, stop=1.8))],
    "crickets": [(tone, dict(start=0.0, stop=2.0, f0=4500, harmonics=1, tremolo=25))],
    "blender": [(pulses, dict(f0=180, rate=0, harmonics=8, noise=1.0, start=0.3)), (grains, dict(rate=60, lo=800, hi=3000, decay=0.01, start=0.3, stop=0.8))],
}


def ambient_reference(case: dict, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(AMBIENT_SECONDS * SR)
    mix = np.zeros(n)
    for event in case["tags"]["event_types"]:
        for generator, params in TEXTURES[event]:
            part = generator(rng, n, **params)
            mix += part / (np.abs(part).max() + 1e-9)
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * SR))  # no clicks at the edges
    return mix * fade / (np.abs(mix).max() + 1e-9) * 0.7


# ---------------------------------------------------------------------------- writing

def seed_of(case_id: str) -> int:
    return zlib.crc32(case_id.encode("utf-8"))


def write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    quantised = Image.fromarray(image).quantize(colors=PNG_COLORS, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE)
    quantised.save(path, format="PNG", optimize=True)  # no text chunks, no timestamp


def write_wav(path: Path, wave: np.ndarray) -> None:
    import soundfile as sf

    sf.write(path, np.clip(wave, -1.0, 1.0).astype(np.float32), SR, subtype="PCM_16", format="WAV")


def build_case(case: dict, root: Path) -> tuple[Path, Path]:
    """Write one case's reference image and audio under `root` (the paths named in the case)."""
    seed = seed_of(case["id"])
    rng = np.random.default_rng(seed)
    speaking = case["subset"] in ("speech", "complex")
    image = portrait(case, rng, seed) if speaking else ambient_image(case, rng)
    wave = speech_reference(case, seed) if speaking else ambient_reference(case, seed)
    image_path, audio_path = root / case["reference_image"], root / case["reference_audio"]
    image_path.parent.mkdir(parents=True, exist_ok=True)
    audio_path.parent.mkdir(parents=True, exist_ok=True)
    write_png(image_path, image)
    write_wav(audio_path, wave)
    return image_path, audio_path


def read_cases(path: Path = HERE / "cases.jsonl") -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="case ids to build (default: all)")
    parser.add_argument("--out", type=Path, default=HERE, help="case folder to write assets into")
    args = parser.parse_args(argv)
    cases = [c for c in read_cases() if not args.only or c["id"] in args.only]
    for case in cases:
        build_case(case, args.out)
    print(f"built {len(cases)} cases into {args.out}")


if __name__ == "__main__":
    main()
