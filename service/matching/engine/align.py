"""Five-point similarity alignment onto the ArcFace 112x112 template that SFace was trained on."""
from __future__ import annotations

import cv2
import numpy as np

ALIGNED_SIZE = 112
# Eye centres, nose tip, mouth corners, in image order (subject's right eye first, on the left).
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray = ARCFACE_TEMPLATE) -> np.ndarray:
    """Least-squares rotation + uniform scale + shift taking `src` points onto `dst` (Umeyama 1991); 2x3."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(cov) < 0:  # a reflection fits better: forbid it, faces are never mirrored
        d[1] = -1.0
    rotation = u @ np.diag(d) @ vt
    variance = (src_c**2).sum(axis=1).mean()
    scale = float((s * d).sum() / variance) if variance > 0 else 1.0
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def align_face(rgb: np.ndarray, landmarks) -> np.ndarray:
    """The 112x112 aligned face crop for five landmarks given in `rgb` coordinates."""
    matrix = similarity_transform(np.asarray(landmarks, dtype=np.float64).reshape(5, 2))
    size = (ALIGNED_SIZE, ALIGNED_SIZE)
    return cv2.warpAffine(rgb, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
