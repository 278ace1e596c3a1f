"""Face engine: decode and orient photos, detect, measure quality and encode faces (no Flask, no Celery)."""
from .engine import (
    DEFAULT_ENGINE,
    PLAUSIBLE_FRACTION,
    STATUSES,
    DetectedFace,
    FaceEngine,
    PhotoAnalysis,
    analyze_bytes,
    engine_names,
    get_engine,
)
from .errors import FaceError, FaceImageError, ModelFileError
from .image import DEFAULT_MAX_MEGAPIXELS, DETECT_MAX_SIDE, crop_face_jpeg, decode_image, downscale

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_MAX_MEGAPIXELS",
    "DETECT_MAX_SIDE",
    "PLAUSIBLE_FRACTION",
    "STATUSES",
    "DetectedFace",
    "FaceEngine",
    "FaceError",
    "FaceImageError",
    "ModelFileError",
    "PhotoAnalysis",
    "analyze_bytes",
    "crop_face_jpeg",
    "decode_image",
    "downscale",
    "engine_names",
    "get_engine",
]
