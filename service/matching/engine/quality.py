"""Per-face quality measures and a verdict: `ok` (None) or one reason code."""
from __future__ import annotations

import cv2
import numpy as np

# Thresholds are loose on purpose: the dev set (150 px LFW thumbnails, 112 px aligned crops,
# film stills) must pass, and staff can still accept a flagged photo. They catch photos that
# cannot match anyone, not merely imperfect ones. Measured dev-set ranges are in the comments.

# Interocular distance (eye centre to eye centre). Dev set: 1st percentile 19 px, 150 px LFW
# thumbnails ~22 px. Below 12 px the 112 px aligned crop (template: 35 px) is mostly interpolation.
MIN_EYE_PX = 12.0
# Shorter side of the detector box. Dev set (YuNet): 1st percentile 51 px. About 2.5 eye distances.
MIN_FACE_PX = 28
# Variance of the Laplacian on the face resized to SHARPNESS_SIDE px, so that the value does not
# grow with face size. Dev set: 1st percentile 147, lowest 33 (a badly out-of-focus 112 px crop).
SHARPNESS_SIDE = 64
MIN_SHARPNESS = 40.0
# Mean grey level of the face box. Dev set: 1st-99th percentile 69-181; below 25 or above 235 a face is
# crushed to a few grey levels and its embedding drifts.
MIN_BRIGHTNESS = 25.0
MAX_BRIGHTNESS = 235.0
# Nose-tip offset from the eye midpoint along the eye line, in interocular distances. Frontal ~0;
# at 0.5 the nose is in line with one eye. Dev set: 99th percentile 0.55, a three-quarter view that
# SFace still matches 0.62, true profiles 0.85 and more (their eye distance collapses too).
MAX_YAW_RATIO = 0.7

REASONS = ("too_small", "too_dark", "too_bright", "profile", "blurry")


def measure(rgb: np.ndarray, box: tuple[int, int, int, int], landmarks=None) -> dict:
    """Size, sharpness, brightness and yaw of one face; `box` is (x, y, w, h) in `rgb` coordinates."""
    x, y, w, h = box
    height, width = rgb.shape[:2]
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(width, int(x + w)), min(height, int(y + h))
    grey = None
    if x1 > x0 and y1 > y0:
        grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    result = {
        "face_px": int(min(w, h)),
        "eye_px": None,
        "yaw": None,
        "sharpness": 0.0,
        "brightness": 0.0,
    }
    if grey is not None and grey.size:
        result["brightness"] = round(float(grey.mean()), 1)
        small = cv2.resize(grey, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
        result["sharpness"] = round(float(cv2.Laplacian(small, cv2.CV_64F).var()), 1)
    if landmarks is not None:
        points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
        eye_a, eye_b, nose = points[0], points[1], points[2]
        eye_vec = eye_b - eye_a
        eye_px = float(np.hypot(*eye_vec))
        result["eye_px"] = round(eye_px, 1)
        if eye_px > 0:
            # Project on the eye line so that a tilted (rolled) head does not read as turned.
            offset = float(np.dot(nose - (eye_a + eye_b) / 2.0, eye_vec / eye_px))
            result["yaw"] = round(offset / eye_px, 3)
    return result


def verdict(measures: dict) -> str | None:
    """The first failing reason code, or None when the face is usable."""
    if measures["face_px"] < MIN_FACE_PX:
        return "too_small"
    if measures["brightness"] < MIN_BRIGHTNESS:
        return "too_dark"
    if measures["brightness"] > MAX_BRIGHTNESS:
        return "too_bright"
    yaw = measures.get("yaw")
    if yaw is not None and abs(yaw) > MAX_YAW_RATIO:
        return "profile"
    # After the pose check: a turned head also shortens the eye distance, and "profile" is the true cause.
    eye_px = measures.get("eye_px")
    if eye_px is not None and eye_px < MIN_EYE_PX:
        return "too_small"
    if measures["sharpness"] < MIN_SHARPNESS:
        return "blurry"
    return None
