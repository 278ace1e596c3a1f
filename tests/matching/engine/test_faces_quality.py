"""Quality verdicts: real faces made tiny, blurred or dark, and the dev photos that must pass."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from service.matching.engine import quality


def test_tiny_face_is_low_quality(faces_sface, faces_load):
    canvas = np.full((400, 400, 3), 128, np.uint8)
    canvas[170:220, 170:220] = cv2.resize(faces_load("Colin_Powell/1.jpg"), (50, 50), interpolation=cv2.INTER_AREA)
    analysis = faces_sface.analyze(canvas)

    assert (analysis.status, analysis.status_reason) == ("low_quality", "too_small")
    assert analysis.primary.quality["face_px"] < quality.MIN_FACE_PX
    assert analysis.primary.embedding.shape == (128,)  # still encoded: staff may accept it


def test_blurred_face_is_low_quality(faces_sface, faces_load):
    analysis = faces_sface.analyze(cv2.GaussianBlur(faces_load("Barack_Obama/1.jpg"), (0, 0), 10))
    assert (analysis.status, analysis.status_reason) == ("low_quality", "blurry")


def test_dark_face_is_low_quality(faces_sface, faces_load):
    dark = (faces_load("Barack_Obama/1.jpg") * 0.12).astype(np.uint8)
    analysis = faces_sface.analyze(dark)
    assert (analysis.status, analysis.status_reason) == ("low_quality", "too_dark")


@pytest.mark.parametrize("file", ["Zhu_Rongji/1.jpg", "Tom_Hanks/1.jpg", "Yao_Ming/2.jpg", "ian_malcolm/1.jpg"])
def test_dev_thumbnails_and_crops_pass(faces_engine, faces_load, file):
    """150 px LFW thumbnails and 112 px aligned crops are what old records look like: they must pass."""
    face = faces_engine.analyze(faces_load(file)).faces[0]
    assert face.quality_ok, face.quality


def test_verdict_order_and_thresholds():
    good = {"face_px": 80, "eye_px": 30.0, "sharpness": 300.0, "brightness": 120.0, "yaw": 0.1}
    assert quality.verdict(good) is None
    assert quality.verdict({**good, "face_px": 20, "brightness": 5.0}) == "too_small"
    assert quality.verdict({**good, "brightness": 10.0, "sharpness": 1.0}) == "too_dark"
    assert quality.verdict({**good, "brightness": 250.0}) == "too_bright"
    # A turned head shrinks the eye distance: call it a profile, not a small face.
    assert quality.verdict({**good, "yaw": -0.9, "eye_px": 8.0}) == "profile"
    assert quality.verdict({**good, "eye_px": 8.0}) == "too_small"
    assert quality.verdict({**good, "sharpness": 10.0}) == "blurry"
    assert quality.verdict({**good, "eye_px": None, "yaw": None}) is None


def test_yaw_ignores_head_tilt():
    rgb = np.full((200, 200, 3), 128, np.uint8)
    frontal = [(80, 90), (120, 90), (100, 110), (85, 130), (115, 130)]
    centre = np.array([100.0, 100.0])
    rotation = cv2.getRotationMatrix2D((100, 100), 30, 1.0)[:, :2]
    tilted = [tuple(rotation @ (np.array(p) - centre) + centre) for p in frontal]
    assert abs(quality.measure(rgb, (60, 60, 80, 90), tilted)["yaw"]) < 0.01
    turned = [(80, 90), (120, 90), (122, 110), (85, 130), (115, 130)]
    assert quality.measure(rgb, (60, 60, 80, 90), turned)["yaw"] == pytest.approx(0.55)
