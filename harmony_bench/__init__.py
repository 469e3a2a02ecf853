"""Harmony-Bench: evaluation suite for joint audio-video generation."""

__version__ = "0.1.0"
