"""Photo bytes to an upright RGB array, and back to small JPEG crops for review pages."""
from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import FaceImageError

log = logging.getLogger(__name__)

# The largest phone cameras give ~50 MP at full size but upload far less; 40 MP keeps one decoded
# photo under ~120 MB of RGB. Pillow's own bomb check (Image.MAX_IMAGE_PIXELS) still applies above.
DEFAULT_MAX_MEGAPIXELS = 40
# Detectors gain nothing above this: a face that matters is > 30 px at 1024 px on a phone photo.
DETECT_MAX_SIDE = 1024
# Transparent areas become white, like the background of an ID photo.
ALPHA_BACKGROUND = (255, 255, 255, 255)

_HIGH_DEPTH_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


try:  # HEIC from phones: only if the maintained wheel is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover - the wheel is in requirements.txt
    HEIC = False

# The formats a photo may have, by MIME type; the decoder is told which one to expect, so a file
# planted or swapped on disk is never handed to another of Pillow's decoders (EPS would start Ghostscript).
PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/heic": "HEIF"}
PHOTO_FORMATS = tuple(f for f in PIL_FORMATS.values() if f != "HEIF" or HEIC)
# Stored normalised photos: enough for review and detection, and pages stay fast.
NORMALIZED_MAX_SIDE = 2048


@dataclass(frozen=True)
class DecodedPhoto:
    rgb: np.ndarray  # upright RGB uint8 (H, W, 3)
    exif_orientation: int
    width: int  # upright size of the original
    height: int


def decode_image(data: bytes, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS, formats=None) -> np.ndarray:
    """Decode photo bytes to an upright RGB uint8 array (H, W, 3), refusing bombs and non-images."""
    return decode_photo(data, max_megapixels, formats).rgb


def decode_photo(data: bytes, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS, formats=None) -> DecodedPhoto:
    """The one decoder of the project: bytes -> upright RGB, with the EXIF orientation it applied."""
    if not data:
        raise FaceImageError("empty", "the file is empty")
    try:
        with warnings.catch_warnings():
            # Our own pixel limit below is the policy; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=list(formats) if formats else None)
    except Image.DecompressionBombError as exc:
        raise FaceImageError("too_large", f"image dimensions are too large to decode safely ({exc})") from None
    except UnidentifiedImageError:
        raise FaceImageError("not_an_image", "the file is not an image format we can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise FaceImageError("corrupt", f"the image header is damaged ({type(exc).__name__})") from None

    with img:
        width, height = img.size
        # Checked on the header alone, before a single pixel is allocated.
        if width * height > max_megapixels * 1_000_000:
            size = f"{width}x{height} ({width * height / 1e6:.0f} MP)"
            raise FaceImageError("too_large", f"image is {size}, limit {max_megapixels:g} MP")
        if width < 1 or height < 1:
            raise FaceImageError("corrupt", "image has no pixels")
        try:
            img.seek(0)  # animated GIF/PNG/WebP: the first frame is the photo
            img.load()
            orientation = _exif_orientation(img)
            upright = _apply_exif_orientation(img)
            rgb = _to_rgb(upright)
        except FaceImageError:
            raise
        except Image.DecompressionBombError as exc:
            raise FaceImageError("too_large", f"image is too large to decode safely ({exc})") from None
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            detail = type(exc).__name__
            raise FaceImageError("corrupt", f"the image data is damaged or truncated ({detail})") from None
    return DecodedPhoto(rgb, orientation, rgb.shape[1], rgb.shape[0])


def normalised_jpeg(decoded: DecodedPhoto, max_side: int = NORMALIZED_MAX_SIDE, quality: int = 90) -> tuple[np.ndarray, bytes]:
    """The stored form of a photo: upright, no metadata (GPS), RGB JPEG of bounded size.

    Returns the pixels that were encoded too, so faces are found on exactly what is stored
    without decoding the JPEG again.
    """
    rgb, _ = downscale(decoded.rgb, max_side)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FaceImageError("encode_failed", "could not encode the photo as JPEG")
    return rgb, buf.tobytes()


def _exif_orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - malformed EXIF: treat as upright
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_exif_orientation(img: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # noqa: BLE001 - malformed EXIF raises many types; a sideways photo beats a lost one
        log.warning("event=exif_orientation_ignored error=%s", type(exc).__name__)
        return img


def _to_rgb(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in _HIGH_DEPTH_MODES:
        # Pillow's convert("L") clips 16-bit values instead of scaling them: scale by the depth ourselves.
        grey = np.asarray(img, dtype=np.float32)
        peak = float(grey.max(initial=0.0))
        top = 65535.0 if mode.startswith("I;16") or 255.0 < peak <= 65535.0 else max(255.0, peak)
        grey8 = np.clip(np.rint(grey * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey8[:, :, None], 3, axis=2))
    has_alpha = "A" in mode or mode.endswith("a") or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, ALPHA_BACKGROUND), rgba).convert("RGB")
    elif mode != "RGB":
        img = img.convert("RGB")  # CMYK, palette, 1-bit, L, YCbCr
    return np.array(img, dtype=np.uint8, copy=True)


def downscale(rgb: np.ndarray, max_side: int = DETECT_MAX_SIDE) -> tuple[np.ndarray, float]:
    """Shrink so the longest side is at most `max_side`; return (image, scale). Original = small / scale."""
    height, width = rgb.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return rgb, 1.0
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def crop_face_jpeg(rgb: np.ndarray, face, margin: float = 0.25, size: int = 160, quality: int = 90) -> bytes:
    """A square JPEG of one face (DetectedFace or an (x, y, w, h) box) with `margin` around it."""
    x, y, w, h = face.box if hasattr(face, "box") else face
    height, width = rgb.shape[:2]
    side = max(1, round(max(w, h) * (1.0 + 2.0 * margin)))
    x0 = round(x + w / 2.0 - side / 2.0)
    y0 = round(y + h / 2.0 - side / 2.0)
    x1, y1 = x0 + side, y0 + side
    region = rgb[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    if region.size == 0:
        raise FaceImageError("bad_box", "the face box lies outside the photo")
    # Faces at the photo edge keep their place in the square; the missing part is neutral grey.
    region = cv2.copyMakeBorder(
        region, max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width),
        cv2.BORDER_CONSTANT, value=(128, 128, 128),
    )
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    crop = cv2.resize(region, (size, size), interpolation=interpolation)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FaceImageError("encode_failed", "could not encode the face crop as JPEG")
    return buf.tobytes()
