"""Photo uploads: check the content before anything is kept, then store by content hash."""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .domain.errors import DomainError
from .matching.engine.errors import FaceImageError
from .matching.engine.image import HEIC, PIL_FORMATS, decode_photo

# Magic numbers first: the file's name and declared type are not trusted.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic"}


class PhotoRejected(DomainError):
    """An upload we refuse; `status` is the HTTP status the API answers with."""

    def __init__(self, code: str, message: str, status: int, filename: str | None = None):
        super().__init__(message, field="photos")
        self.code = code
        self.status = status
        self.filename = filename


@dataclass(frozen=True)
class CheckedPhoto:
    data: bytes
    sha256: str
    mime: str
    width: int
    height: int
    filename: str | None = None


def sniff(data: bytes) -> str | None:
    """The image type from the first bytes, or None."""
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if HEIC and len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in {
        b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc", b"hevx"
    }:
        return "image/heic"
    return None


def check_photo(data: bytes, *, max_bytes: int, max_megapixels: int, filename: str | None = None) -> CheckedPhoto:
    """Validate one upload; raise PhotoRejected with a clear reason and HTTP status."""
    if len(data) > max_bytes:
        raise PhotoRejected(
            "photo_too_large", f"photo is larger than {max_bytes // (1024 * 1024)} MB", 413, filename
        )
    if not data:
        raise PhotoRejected("photo_empty", "photo file is empty", 422, filename)
    mime = sniff(data)
    if mime is None:
        raise PhotoRejected(
            "unsupported_media_type",
            "not a supported image (JPEG, PNG, WebP" + (", HEIC" if HEIC else "") + ")",
            415,
            filename,
        )
    try:
        # The full decode, once, so a truncated or corrupt file fails here and not in the worker.
        decoded = decode_photo(data, max_megapixels, formats=[PIL_FORMATS[mime]])
    except FaceImageError as exc:
        if exc.reason_code == "too_large":
            raise PhotoRejected("photo_too_many_pixels", f"photo rejected: {exc.message}", 422, filename) from None
        raise PhotoRejected("photo_corrupt", "photo could not be decoded (corrupt or truncated file)", 422, filename) from None
    width, height = decoded.width, decoded.height
    return CheckedPhoto(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        mime=mime,
        width=width,
        height=height,
        filename=filename,
    )


def media_path(media_dir: Path, sha256: str, ext: str) -> Path:
    return media_dir / sha256[:2] / sha256[2:4] / f"{sha256}.{ext}"


def store(media_dir: Path, sha256: str, ext: str, data: bytes) -> tuple[Path, bool]:
    """Write atomically (temp file + rename); return (path, newly_written)."""
    path = media_path(media_dir, sha256, ext)
    if path.exists():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path, True
