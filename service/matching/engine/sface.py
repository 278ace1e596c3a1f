"""The default engine: YuNet detection, 5-point alignment, SFace 128-d embedding, cosine distance.

The embedding of a face is the mean of two SFace passes: aligned on YuNet's five points and on the five
points of dlib's shape predictor (landmarks.py). One pass costs ~16 ms on one core, the shape ~1.4 ms.
"""
from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from .align import ALIGNED_SIZE, align_face
from .engine import FaceEngine, RawFace
from .landmarks import ShapeLandmarks
from .weights import package_model_dir, verified_file
from .yunet import SCORE_THRESHOLD, YuNetDetector

SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
SFACE_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"
YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
YUNET_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
# The int8bq graph declares more than one input, so OpenCV 5's engine needs the image input's name.
SFACE_INPUT = "data"


class SFaceEngine(FaceEngine):
    name = "sface"
    # tta2: the mean of two passes, one per alignment. Mirrored passes as well (tta4) measured no better at the
    # operating point and cost 2 x 16 ms more per face (bench/results/open_set.md). A new version re-encodes
    # every stored photo (matching/reencode.py); old and new templates are never compared.
    version = "sface-2021dec-int8bq-tta2"
    dim = 128
    metric = "cosine"
    # Cosine distance (1 - cos) at FAR 1e-3 on the dev set is 0.6166 (0.6268 with one pass); rounded to the
    # strict side because a false match sends a family to the wrong person (bench/results/calibration.md).
    default_threshold = 0.61
    needs_landmarks = True

    def __init__(
        self,
        model_dir: Path | str | None = None,
        score_threshold: float = SCORE_THRESHOLD,
        force_dnn_detector: bool = False,
    ):
        folder = Path(model_dir) if model_dir is not None else package_model_dir()
        sface_path = verified_file(folder / SFACE_FILE, SFACE_SHA256)
        yunet_path = verified_file(folder / YUNET_FILE, YUNET_SHA256)
        self._detector = YuNetDetector(yunet_path, score_threshold, force_dnn=force_dnn_detector)
        # cv2.FaceRecognizerSF cannot feed this int8 file under OpenCV 5: run the graph directly.
        self._net = cv2.dnn.readNetFromONNX(str(sface_path))
        self._shape = ShapeLandmarks()
        # One cv2.dnn.Net must not run two inferences at once (threads in a web worker).
        self._lock = threading.Lock()

    @property
    def detector_backend(self) -> str:
        return self._detector.backend

    def _detect(self, rgb: np.ndarray) -> list[RawFace]:
        with self._lock:
            rows = self._detector.detect(np.ascontiguousarray(rgb[:, :, ::-1]))  # YuNet was trained on BGR
        return [RawFace(tuple(map(float, r[:4])), r[4:14].reshape(5, 2).astype(np.float64), float(r[14])) for r in rows]

    def _embed(self, rgb: np.ndarray, face: RawFace) -> np.ndarray:
        total = np.zeros(self.dim, dtype=np.float32)
        for points in (face.landmarks, self._shape.five_points(rgb, face.box)):
            total += self._embed_aligned(align_face(rgb, points))
        norm = float(np.linalg.norm(total))
        return total / norm if norm > 0 else total

    def passes(self, rgb: np.ndarray, landmarks, box) -> dict[str, np.ndarray]:
        """Each single pass, mirrored ones too: what bench/open_set_levers.py compares the engine's mean with."""
        out = {}
        for name, points in (("yunet", np.asarray(landmarks, dtype=np.float64).reshape(5, 2)),
                             ("shape", self._shape.five_points(rgb, box))):
            aligned = align_face(rgb, points)
            out[name] = self._embed_aligned(aligned)
            out[f"{name}_mirrored"] = self._embed_aligned(np.ascontiguousarray(aligned[:, ::-1]))
        return out

    def _embed_aligned(self, aligned: np.ndarray) -> np.ndarray:
        # OpenCV's FaceRecognizerSF feeds raw 0-255 pixels, swapped BGR->RGB: the graph does its own
        # mean/scale. Our crop is already RGB, so no swap. BGR input measurably loses accuracy.
        blob = cv2.dnn.blobFromImage(aligned, 1.0, (ALIGNED_SIZE, ALIGNED_SIZE), (0, 0, 0), swapRB=False)
        with self._lock:
            self._net.setInput(blob, SFACE_INPUT)
            vector = self._net.forward().reshape(-1).astype(np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector
