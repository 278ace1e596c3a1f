"""A second estimate of the five alignment points: dlib's 68-point shape predictor inside the detector's box.

SFace's embedding moves with the five points its crop is aligned on, and YuNet's int8 landmarks are off by a
pixel or two on small faces. The SFace engine therefore embeds the face aligned on both estimates and keeps the
mean (test-time augmentation). Measured on the dev set with 1,008 strangers (S-norm, cohort = the other half of
the strangers): rank-1 0.958 -> 0.972, FNIR at 0.1 false candidates per arrival 0.066 -> 0.049; with the halves
swapped 0.955 -> 0.969 and 0.063 -> 0.052 (bench/results/open_set.md).

The predictor file ships in face_recognition_models (installed for the dlib engine); it is checked by hash.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from .weights import package_model_dir, verified_file

SHAPE_PACKAGE = "face_recognition_models"
SHAPE_FILE = "shape_predictor_68_face_landmarks.dat"
SHAPE_SHA256 = "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"
SHAPE_HINT = "pip install face_recognition_models==0.3.0 (requirements.txt)"


class ShapeLandmarks:
    """Five points (eye centres, nose tip, mouth corners; image order, as YuNet) from dlib's 68-point shape.

    The file is checked at once (a wrong or missing file fails at start), but loaded (~100 MB) only when a face
    is first encoded: processes that only ask the engine for its version and cuts (the search workers) never
    hold it.
    """

    def __init__(self) -> None:
        self._path = verified_file(package_model_dir(SHAPE_PACKAGE) / SHAPE_FILE, SHAPE_SHA256, SHAPE_HINT)
        self._predictor = None
        self._lock = threading.Lock()

    def _load(self):
        import dlib

        self._rect = dlib.rectangle
        return dlib.shape_predictor(str(self._path))

    def five_points(self, rgb: np.ndarray, box) -> np.ndarray:
        x, y, w, h = (float(v) for v in box)
        with self._lock:
            if self._predictor is None:
                self._predictor = self._load()
            # The box as the engine stores it (whole pixels, outward): a stored face re-encodes to the same vector.
            rect = self._rect(math.floor(x), math.floor(y), math.ceil(x + w), math.ceil(y + h))
            shape = self._predictor(rgb, rect)
        p = np.array([(q.x, q.y) for q in shape.parts()], dtype=np.float64)
        # 36-41: the eye on the image's left (the subject's right), 42-47 the other; 30 nose tip; 48, 54 mouth.
        return np.array([p[36:42].mean(axis=0), p[42:48].mean(axis=0), p[30], p[48], p[54]])
