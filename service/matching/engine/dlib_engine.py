"""The baseline engine: dlib HOG detection and the face_recognition 128-d ResNet encoder, Euclidean distance."""
from __future__ import annotations

import threading

import numpy as np

from .engine import FaceEngine, RawFace

# HOG misses faces under ~80 px at upsample 1; doubling again costs 4x, so only small photos retry.
UPSAMPLE = 1
RETRY_UPSAMPLE = 2
RETRY_MAX_SIDE = 600


class DlibEngine(FaceEngine):
    name = "dlib"
    version = "dlib-resnet-v1-hog"
    dim = 128
    metric = "euclidean"
    # Euclidean distance at FAR 1e-3 on the dev set (0.4996), rounded down (bench/results/calibration.md).
    # The usual 0.6 accepts a quarter of East Asian impostor pairs.
    default_threshold = 0.49

    def __init__(self):
        # face_recognition loads ~100 MB of models at import: only when this engine is chosen.
        import dlib
        from PIL import ImageFile

        # Its import also sets Pillow's process-wide LOAD_TRUNCATED_IMAGES = True, which would let
        # half-uploaded photos decode as grey: put the previous value back.
        load_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
        import face_recognition

        ImageFile.LOAD_TRUNCATED_IMAGES = load_truncated

        self._fr = face_recognition
        self._hog = dlib.get_frontal_face_detector()
        self._lock = threading.Lock()

    def _detect(self, rgb: np.ndarray) -> list[RawFace]:
        with self._lock:
            rects, scores, _ = self._hog.run(rgb, UPSAMPLE, 0.0)
            if not rects and max(rgb.shape[:2]) <= RETRY_MAX_SIDE:
                rects, scores, _ = self._hog.run(rgb, RETRY_UPSAMPLE, 0.0)
            locations = [(r.top(), r.right(), r.bottom(), r.left()) for r in rects]
            marks = self._fr.face_landmarks(rgb, locations, model="large") if locations else []
        faces = []
        for (top, right, bottom, left), score, points in zip(locations, scores, marks):
            box = (float(left), float(top), float(right - left), float(bottom - top))
            faces.append(RawFace(box, _five_points(points), float(score)))
        return faces

    def _embed(self, rgb: np.ndarray, face: RawFace) -> np.ndarray:
        x, y, w, h = face.box
        css = (round(y), round(x + w), round(y + h), round(x))
        with self._lock:
            # model="small" (5-point chip alignment) is what the encoder and the baseline use.
            vector = self._fr.face_encodings(rgb, [css], num_jitters=1, model="small")[0]
        return np.asarray(vector, dtype=np.float32)


def _five_points(marks: dict) -> np.ndarray:
    """The 68-point shape reduced to YuNet's order: eye, eye, nose tip, mouth corner, mouth corner."""
    return np.array(
        [
            np.mean(marks["left_eye"], axis=0),  # image left (the subject's right eye), as YuNet
            np.mean(marks["right_eye"], axis=0),
            marks["nose_bridge"][-1],  # point 30, the nose tip
            marks["top_lip"][0],  # point 48
            marks["top_lip"][6],  # point 54
        ],
        dtype=np.float64,
    )
