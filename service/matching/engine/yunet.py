"""YuNet face detector (box, 5 landmarks, score): cv2.FaceDetectorYN, or plain cv2.dnn when that fails."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

# The zoo demo uses 0.9; 0.7 keeps every labelled dev face (lowest 0.82) and drops most
# half-faces at the photo edge, which only turn single-face photos into `multiple_faces`.
SCORE_THRESHOLD = 0.7
NMS_THRESHOLD = 0.3
TOP_K = 5000
_STRIDES = (8, 16, 32)
_OUTPUTS = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in _STRIDES]


class YuNetDetector:
    """Detect faces in a BGR image; rows are (x, y, w, h, 10 landmark coords, score) like FaceDetectorYN."""

    def __init__(self, model_path: Path, score_threshold: float = SCORE_THRESHOLD, force_dnn: bool = False):
        self.score_threshold = score_threshold
        self._builtin = None if force_dnn else self._try_builtin(str(model_path))
        self._net = None
        if self._builtin is None:
            self._net = cv2.dnn.readNetFromONNX(str(model_path))
        self.backend = "FaceDetectorYN" if self._builtin is not None else "dnn"

    def _try_builtin(self, path: str):
        try:
            detector = cv2.FaceDetectorYN.create(path, "", (64, 64), self.score_threshold, NMS_THRESHOLD, TOP_K)
            detector.detect(np.zeros((64, 64, 3), np.uint8))  # some builds load fine and fail on first use
            return detector
        except cv2.error as exc:
            log.warning("event=yunet_builtin_unavailable fallback=dnn error=%s", str(exc).splitlines()[0][:120])
            return None

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        height, width = bgr.shape[:2]
        if self._builtin is not None:
            self._builtin.setInputSize((width, height))
            _, faces = self._builtin.detect(bgr)
            return np.zeros((0, 15), np.float32) if faces is None else faces.astype(np.float32)
        return self._detect_dnn(bgr)

    def _detect_dnn(self, bgr: np.ndarray) -> np.ndarray:
        # Same steps as OpenCV's face_detect.cpp: pad to a multiple of 32, raw BGR 0-255 input.
        height, width = bgr.shape[:2]
        pad_h, pad_w = -(-height // 32) * 32, -(-width // 32) * 32
        padded = cv2.copyMakeBorder(bgr, 0, pad_h - height, 0, pad_w - width, cv2.BORDER_CONSTANT, value=0)
        self._net.setInput(cv2.dnn.blobFromImage(padded))
        blobs = dict(zip(_OUTPUTS, self._net.forward(_OUTPUTS)))
        rows = []
        for stride in _STRIDES:
            cols = pad_w // stride
            cls = np.clip(blobs[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
            obj = np.clip(blobs[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
            score = np.sqrt(cls * obj)
            keep = np.nonzero(score >= self.score_threshold)[0]
            if keep.size == 0:
                continue
            bbox = blobs[f"bbox_{stride}"].reshape(-1, 4)[keep]
            kps = blobs[f"kps_{stride}"].reshape(-1, 10)[keep]
            col = (keep % cols).astype(np.float32)
            row = (keep // cols).astype(np.float32)
            cx, cy = (col + bbox[:, 0]) * stride, (row + bbox[:, 1]) * stride
            w, h = np.exp(bbox[:, 2]) * stride, np.exp(bbox[:, 3]) * stride
            grid = np.stack([col, row] * 5, axis=1)
            points = (kps + grid) * stride
            rows.append(np.column_stack([cx - w / 2, cy - h / 2, w, h, points, score[keep]]))
        if not rows:
            return np.zeros((0, 15), np.float32)
        faces = np.concatenate(rows).astype(np.float32)
        boxes = [[int(x), int(y), int(w), int(h)] for x, y, w, h in faces[:, :4]]
        keep = cv2.dnn.NMSBoxes(boxes, faces[:, 14].tolist(), self.score_threshold, NMS_THRESHOLD, top_k=TOP_K)
        return faces[np.asarray(keep, dtype=int).reshape(-1)]
