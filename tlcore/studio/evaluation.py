"""Evaluating a trained model beyond its scores: what to do next, how far its confidence can be
trusted, and where it looked in an image (Grad-CAM)."""

from __future__ import annotations

from tlcore.use.advice import advise
from tlcore.use.explain import gradcam
from tlcore.use.notsure import calibration_sentence
