"""The face engine interface: detect, measure and encode every face of a photo, then judge the photo."""
from __future__ import annotations

import importlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import quality
from .subject import PLAUSIBLE_FRACTION, Judgement  # noqa: F401  (PLAUSIBLE_FRACTION: re-exported)
from .subject import judge as judge_subject
from .errors import FaceImageError
from .image import DEFAULT_MAX_MEGAPIXELS, DETECT_MAX_SIDE, decode_image, downscale

log = logging.getLogger(__name__)

STATUSES = ("processed", "no_face", "multiple_faces", "low_quality")
# Crowd photos: embedding every face costs up to ~100 ms each (dlib); staff pick from the largest.
MAX_FACES = 20
# Tight crops (an ID photo, a 112 px aligned face) give detectors no context around the face:
# photos smaller than SMALL_SIDE get a border of PAD_FRACTION of their side before detection.
SMALL_SIDE = 300
PAD_FRACTION = 0.25

DEFAULT_ENGINE = "sface"
_ENGINES = {
    "sface": "service.matching.engine.sface:SFaceEngine",
    "dlib": "service.matching.engine.dlib_engine:DlibEngine",
}


@dataclass
class DetectedFace:
    """One face; box (x, y, w, h) and landmarks are in original photo coordinates."""

    box: tuple[int, int, int, int]
    landmarks: list[tuple[float, float]] | None
    det_score: float
    embedding: np.ndarray
    quality: dict
    quality_ok: bool
    quality_reason: str | None

    def to_dict(self) -> dict:
        """JSON-ready description without the embedding (store that as `embedding.tobytes()`)."""
        return {
            "box": list(self.box),
            "landmarks": [list(p) for p in self.landmarks] if self.landmarks is not None else None,
            "det_score": self.det_score,
            "quality": dict(self.quality),
            "quality_ok": self.quality_ok,
            "quality_reason": self.quality_reason,
        }


@dataclass
class PhotoAnalysis:
    """All faces of one photo, largest first, and the photo's status."""

    width: int
    height: int
    faces: list[DetectedFace] = field(default_factory=list)
    status: str = "no_face"
    status_reason: str | None = None
    # Index of the face the photo is about (engine/subject.py); None when ambiguous or unusable.
    subject: int | None = None
    # Ambiguous photos: every plausible face, searched until a person chooses one.
    plausible: tuple[int, ...] = ()
    choice: str | None = None  # only | auto | low_quality (how the subject was found; engine/subject.py)

    @property
    def primary(self) -> DetectedFace | None:
        """The face the photo is about (or, when unusable, the largest face staff may accept)."""
        if self.status in ("processed", "low_quality") and self.faces:
            return self.faces[self.subject if self.subject is not None else 0]
        return None

    def to_dict(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "status": self.status,
            "status_reason": self.status_reason,
            "subject": self.subject,
            "plausible": list(self.plausible),
            "choice": self.choice,
            "faces": [f.to_dict() for f in self.faces],
        }


@dataclass(frozen=True)
class RawFace:
    """A detector hit: float box (x, y, w, h), 5x2 landmarks or None, score."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray | None
    score: float

    def mapped(self, offset: float, scale: float) -> RawFace:
        """The same face in original coordinates, from a detection image padded by `offset` then scaled."""
        x, y, w, h = self.box
        box = ((x - offset) / scale, (y - offset) / scale, w / scale, h / scale)
        points = None if self.landmarks is None else (self.landmarks - offset) / scale
        return RawFace(box, points, self.score)


class FaceEngine(ABC):
    """Detector + embedder behind one interface; distances are `lower is closer` for every engine."""

    name: str
    version: str  # changes whenever stored embeddings stop being comparable
    dim: int
    metric: str  # "cosine" | "euclidean"
    default_threshold: float  # distance; calibrated at FAR 1e-3 on the dev set (bench/calibrate.py)
    needs_landmarks: bool = False  # the embedder aligns on landmarks, not on the box
    detect_max_side: int = DETECT_MAX_SIDE

    @abstractmethod
    def _detect(self, rgb: np.ndarray) -> list[RawFace]:
        """Faces in `rgb` (already downscaled and padded), in its own coordinates."""

    @abstractmethod
    def _embed(self, rgb: np.ndarray, face: RawFace) -> np.ndarray:
        """The float32 embedding of one face given in `rgb` coordinates."""

    def detect(self, rgb: np.ndarray) -> list[RawFace]:
        """Faces in original coordinates, largest first, at most MAX_FACES."""
        small, scale = downscale(rgb, self.detect_max_side)
        pad = round(max(small.shape[:2]) * PAD_FRACTION) if max(small.shape[:2]) < SMALL_SIDE else 0
        if pad:
            small = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        height, width = rgb.shape[:2]
        faces = []
        for raw in self._detect(small):
            face = raw.mapped(pad, scale)
            x, y, w, h = face.box
            if w <= 0 or h <= 0 or x + w <= 0 or y + h <= 0 or x >= width or y >= height:
                continue  # a hit in the padding only
            faces.append(face)
        faces.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
        if len(faces) > MAX_FACES:
            log.info("event=faces_capped engine=%s found=%d kept=%d", self.name, len(faces), MAX_FACES)
        return faces[:MAX_FACES]

    def analyze(self, rgb: np.ndarray) -> PhotoAnalysis:
        """Detect, measure and encode every face, then set the photo status."""
        started = time.perf_counter()
        rgb = _as_rgb(rgb)
        height, width = rgb.shape[:2]
        faces = [self._describe(rgb, raw) for raw in self.detect(rgb)]
        verdict = judge(faces, width, height)
        analysis = PhotoAnalysis(width, height, faces, verdict.status, verdict.reason, verdict.subject,
                                 verdict.plausible, verdict.choice)
        log.debug(
            "event=photo_analyzed engine=%s faces=%d status=%s ms=%d",
            self.name, len(faces), analysis.status, (time.perf_counter() - started) * 1000,
        )
        return analysis

    def _describe(self, rgb: np.ndarray, raw: RawFace) -> DetectedFace:
        height, width = rgb.shape[:2]
        x, y, w, h = raw.box
        x0, y0 = max(0, int(np.floor(x))), max(0, int(np.floor(y)))
        x1, y1 = min(width, int(np.ceil(x + w))), min(height, int(np.ceil(y + h)))
        box = (x0, y0, x1 - x0, y1 - y0)
        landmarks = None
        if raw.landmarks is not None:
            landmarks = [(round(float(px), 2), round(float(py), 2)) for px, py in raw.landmarks]
        measures = quality.measure(rgb, box, landmarks)
        reason = quality.verdict(measures)
        return DetectedFace(
            box=box,
            landmarks=landmarks,
            det_score=round(float(raw.score), 4),
            embedding=self._embed(rgb, raw),
            quality=measures,
            quality_ok=reason is None,
            quality_reason=reason,
        )

    def encode_face(self, rgb: np.ndarray, face: DetectedFace) -> np.ndarray:
        """Embed one face again, e.g. a box drawn by staff; finds landmarks inside the box when missing."""
        rgb = _as_rgb(rgb)
        raw = RawFace(tuple(float(v) for v in face.box), None, float(face.det_score))
        if face.landmarks is not None:
            raw = RawFace(raw.box, np.asarray(face.landmarks, dtype=np.float64).reshape(-1, 2), raw.score)
        elif self.needs_landmarks:
            raw = self._find_in_box(rgb, face.box)
        return self._embed(rgb, raw)

    def _find_in_box(self, rgb: np.ndarray, box) -> RawFace:
        x, y, w, h = box
        height, width = rgb.shape[:2]
        x0, y0 = max(0, int(x - w / 2)), max(0, int(y - h / 2))
        x1, y1 = min(width, int(x + 1.5 * w)), min(height, int(y + 1.5 * h))
        region = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        best, best_iou = None, 0.1
        for hit in (self.detect(region) if region.size else []):
            box_in_photo = (hit.box[0] + x0, hit.box[1] + y0, hit.box[2], hit.box[3])
            moved = RawFace(box_in_photo, hit.landmarks + (x0, y0), hit.score)
            overlap = iou(moved.box, box)
            if overlap > best_iou:
                best, best_iou = moved, overlap
        if best is None:
            raise FaceImageError("no_face", "no face found inside the given box")
        return best

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Distance between two embeddings; lower is closer."""
        return float(self.distances(a, np.asarray(b)[None, :])[0])

    def distances(self, query: np.ndarray, gallery: np.ndarray) -> np.ndarray:
        """Distances from one embedding to each row of `gallery` (N, dim)."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        gallery = np.asarray(gallery, dtype=np.float32).reshape(-1, self.dim)
        if self.metric == "cosine":
            norms = np.linalg.norm(gallery, axis=1) * max(float(np.linalg.norm(query)), 1e-12)
            return 1.0 - (gallery @ query) / np.maximum(norms, 1e-12)
        return np.linalg.norm(gallery - query, axis=1)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """Higher is closer: cosine for sface, 1 - Euclidean distance for dlib."""
        return 1.0 - self.distance(a, b)

    def is_match(self, a: np.ndarray, b: np.ndarray, threshold: float | None = None) -> bool:
        return self.distance(a, b) <= (self.default_threshold if threshold is None else threshold)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.version}>"


def judge(faces: list[DetectedFace], width: int, height: int) -> Judgement:
    """Photo status, reason code and subject from its faces (largest first): see engine/subject.py."""
    return judge_subject(faces, width, height)


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0.0, min(ax1, bx1) - max(a[0], b[0])) * max(0.0, min(ay1, by1) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 array (H, W, 3), got {rgb.dtype} {rgb.shape}")
    return np.ascontiguousarray(rgb)


_cache: dict[str, FaceEngine] = {}
_cache_lock = threading.Lock()


def engine_names() -> tuple[str, ...]:
    return tuple(_ENGINES)


def get_engine(name: str = DEFAULT_ENGINE) -> FaceEngine:
    """The process-wide engine `name`; models load once, on first use."""
    if name not in _ENGINES:
        raise ValueError(f"unknown face engine {name!r}; choose one of {', '.join(_ENGINES)}")
    with _cache_lock:
        engine = _cache.get(name)
        if engine is None:
            started = time.perf_counter()
            module_name, class_name = _ENGINES[name].split(":")
            # Imported here so that a worker using sface never loads dlib and its 100 MB of models.
            engine = getattr(importlib.import_module(module_name), class_name)()
            _cache[name] = engine
            ms = (time.perf_counter() - started) * 1000
            log.info("event=face_engine_loaded engine=%s version=%s ms=%d", name, engine.version, ms)
    return engine


def analyze_bytes(
    data: bytes, engine: FaceEngine | str | None = None, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
) -> PhotoAnalysis:
    """Decode photo bytes (EXIF-oriented) and analyse them; raises FaceImageError for unusable files."""
    if engine is None or isinstance(engine, str):
        engine = get_engine(engine or DEFAULT_ENGINE)
    return engine.analyze(decode_image(data, max_megapixels=max_megapixels))
