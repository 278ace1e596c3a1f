"""Hostile images: through POST /api/v1/cases and through the worker's processing.

Each sample either gets a clear 4xx at upload (with the envelope's code) or is accepted and then
ends as a photo status (`processed`, `no_face`, `invalid`, ...). Never a 500, never a crash of the
processing, never a hang. Samples refused at upload are also planted as the stored original of an
accepted photo, to prove the worker copes with them too (a file that passed an older check, or was
replaced on disk). Generated ones are mixed with hypothesis-made random corruptions of a real photo.
"""
from __future__ import annotations

import io
import struct
import threading
import zipfile
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st
from PIL import Image

from service.models import Photo
from service.matching import photos as pipeline
from service.services.intake import EXTENSIONS
from service.media import media_path

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")  # the corrupt EXIF samples

ENDED = {"processed", "no_face", "multiple_faces", "low_quality", "invalid"}
PROCESS_TIMEOUT = 60


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch):
    """Uploads would queue their photo on the shared broker: processing is run here, in-process."""
    from service.extensions import celery

    monkeypatch.setattr(celery, "send_task", lambda *a, **k: None)


@pytest.fixture(scope="module")
def face(faces_dir) -> Image.Image:
    with Image.open(faces_dir / "Alex_Lacamoire" / "1.jpg") as img:
        img = img.convert("RGB")
        img.thumbnail((480, 480))
        return img.copy()


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame header (SOF0/SOF2) to claim another size; the pixels stay as they are."""
    data = bytearray(jpeg)
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC2):
            struct.pack_into(">HH", data, i + 5, height, width)
            return bytes(data)
        i += 2 + length
    raise AssertionError("no SOF marker")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height, with one small compressed row."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _png_chunk(b"IEND", b""))


def _png_text_bomb(face: Image.Image) -> bytes:
    """A real PNG with a zTXt chunk that inflates to 64 MB (the text limit is what must hold)."""
    png = _save(face, "PNG")
    bomb = _png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"A" * (64 * 1024 * 1024), 9))
    return png[:33] + bomb + png[33:]


def _exif_tiff(entries: list[tuple[int, int, int, bytes]], next_ifd: int | None = 0) -> bytes:
    """Little-endian TIFF for an APP1 Exif block; entries (tag, type, count, 4-byte value/offset)."""
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHI", t, ty, c) + v for t, ty, c, v in entries)
    next_offset = 8 if next_ifd is None else next_ifd  # None: the IFD chain points back at itself
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", next_offset)


def _with_exif(jpeg: bytes, tiff: bytes, copies: int = 1) -> bytes:
    segment = b"\xff\xe1" + struct.pack(">H", len(tiff) + 8) + b"Exif\x00\x00" + tiff
    return jpeg[:2] + segment * copies + jpeg[2:]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.html", "<script>alert(1)</script>")
    return buf.getvalue()


def _animated(face: Image.Image, fmt: str) -> bytes:
    frames = [face, face.rotate(90), face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _cv_png(face: Image.Image, gray: bool) -> bytes:
    arr = np.asarray(face)[:, :, ::-1].astype(np.uint16) * 257  # 16 bits per channel
    if gray:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2GRAY)
    ok, png = cv2.imencode(".png", arr)
    assert ok
    return png.tobytes()


def _palette_alpha(face: Image.Image) -> bytes:
    img = face.convert("RGBA")
    img.putalpha(Image.linear_gradient("L").resize(img.size))
    return _save(img.convert("P", palette=Image.Palette.ADAPTIVE), "PNG", transparency=0)


@dataclass(frozen=True)
class Sample:
    name: str
    make: object  # (face) -> bytes
    refused: tuple[int, str] | None  # (status, error code) at upload, or None when the upload is accepted
    keeps_face: bool = False  # an accepted conversion must not lose the picture: the face is still found


SAMPLES = [
    Sample("empty file", lambda f: b"", (422, "photo_empty")),
    Sample("text named .jpg", lambda f: b"hello, this is not an image", (415, "unsupported_media_type")),
    Sample("svg with script", lambda f: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
           (415, "unsupported_media_type")),
    Sample("animated gif", lambda f: _animated(f.convert("P"), "GIF"), (415, "unsupported_media_type")),
    Sample("jpeg magic then html", lambda f: b"\xff\xd8\xff\xe0<html><script>alert(1)</script>",
           (422, "photo_corrupt")),
    Sample("truncated jpeg", lambda f: _save(f, "JPEG")[:2000], (422, "photo_corrupt")),
    Sample("truncated png", lambda f: _save(f, "PNG")[:3000], (422, "photo_corrupt")),
    Sample("truncated webp", lambda f: _save(f, "WEBP")[:800], (422, "photo_corrupt")),
    Sample("fake heic box", lambda f: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
           (422, "photo_corrupt")),
    Sample("jpeg header claims 60000x60000", lambda f: _jpeg_with_size(_save(f, "JPEG"), 60000, 60000),
           (422, "photo_too_many_pixels")),
    Sample("png header claims 100000x100000", lambda f: _png_header_only(100000, 100000),
           (422, "photo_too_many_pixels")),
    Sample("png header claims 6000x6000 with one row of data", lambda f: _png_header_only(6000, 6000),
           (422, "photo_corrupt")),
    Sample("png zTXt text bomb", _png_text_bomb, (422, "photo_corrupt")),
    Sample("polyglot jpeg+zip", lambda f: _save(f, "JPEG") + _zip(), None, True),
    Sample("exif orientation 9", lambda f: _with_exif(_save(f, "JPEG"), _exif_tiff([(0x0112, 3, 1, b"\x09\x00\x00\x00")])),
           None, True),
    Sample("exif orientation as text", lambda f: _with_exif(_save(f, "JPEG"), _exif_tiff([(0x0112, 2, 4, b"six\x00")])),
           None),
    Sample("exif entry claims 2^31 values", lambda f: _with_exif(
        _save(f, "JPEG"), _exif_tiff([(0x010E, 2, 0x7FFFFFFF, struct.pack("<I", 26))])), None),
    Sample("exif IFD chain loops on itself", lambda f: _with_exif(
        _save(f, "JPEG"), _exif_tiff([(0x0112, 3, 1, b"\x06\x00\x00\x00")], next_ifd=None)), None),
    Sample("exif IFD claims 65535 entries", lambda f: _with_exif(_save(f, "JPEG"), b"II*\x00\x08\x00\x00\x00\xff\xff"),
           None),
    Sample("200 exif segments (13 MB)", lambda f: _with_exif(
        _save(f, "JPEG"), _exif_tiff([(0x0112, 3, 1, b"\x06\x00\x00\x00")]) + b"\0" * 65000, copies=200), None),
    Sample("animated png (3 frames)", lambda f: _animated(f, "PNG"), None, True),
    Sample("animated webp (3 frames)", lambda f: _animated(f, "WEBP"), None, True),
    Sample("cmyk jpeg", lambda f: _save(f.convert("CMYK"), "JPEG"), None, True),
    Sample("16-bit grayscale png", lambda f: _cv_png(f, gray=True), None, True),
    Sample("48-bit rgb png", lambda f: _cv_png(f, gray=False), None, True),
    Sample("palette png with alpha", _palette_alpha, None, True),
    Sample("1-bit png", lambda f: _save(f.convert("1"), "PNG"), None),
    Sample("grayscale+alpha png", lambda f: _save(f.convert("LA"), "PNG"), None),
    Sample("36-megapixel png of zeros (a few hundred KB)", lambda f: _save(Image.new("L", (6000, 6000)), "PNG"), None),
]


def _process(app, photo_id: int, settings) -> str:
    """process_photo on its own thread and app context, bounded in time: a hang fails the test."""
    result: dict = {}

    def run():
        with app.app_context():
            try:
                result["outcome"] = pipeline.process_photo(photo_id, settings).result
            except BaseException as exc:  # noqa: BLE001 - the test reports what escaped
                result["error"] = exc
            finally:
                from service.extensions import db

                db.session.remove()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(PROCESS_TIMEOUT)
    assert not worker.is_alive(), f"processing hung for {PROCESS_TIMEOUT}s"
    assert "error" not in result, f"processing raised {result.get('error')!r}"
    return result["outcome"]


def _status(db, photo_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Photo, photo_id).status


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_hostile_image_through_upload_and_worker(app, api, db, settings, face, sample):
    data = sample.make(face)
    resp = api["staff"].post("/api/v1/cases", content_type="multipart/form-data",
                             data={"name": "样本", "photos": [(io.BytesIO(data), "photo.jpg")]})
    if sample.refused:
        status, code = sample.refused
        assert (resp.status_code, resp.get_json()["error"]["code"]) == (status, code), resp.get_json()
        assert resp.get_json()["error"]["message"] and resp.get_json()["error"]["field"] == "photos"
        assert db.session.query(Photo).count() == 0
        # The worker meets the same bytes as the stored original of an accepted photo: it must end the photo.
        ok = api["staff"].post("/api/v1/cases", content_type="multipart/form-data",
                               data={"photos": [(io.BytesIO(_save(face, "JPEG")), "ok.jpg")]})
        assert ok.status_code == 201
        photo_id = ok.get_json()["photos"][0]["id"]
        photo = db.session.get(Photo, photo_id)
        media_path(settings.media_dir, photo.sha256, EXTENSIONS[photo.mime]).write_bytes(data)
        assert _process(app, photo_id, settings) in ENDED
        assert _status(db, photo_id) == "invalid"
        return
    assert resp.status_code == 201, resp.get_json()
    photo_id = resp.get_json()["photos"][0]["id"]
    outcome = _process(app, photo_id, settings)
    assert outcome in ENDED and _status(db, photo_id) == outcome
    if sample.keeps_face:
        assert outcome == "processed", f"{sample.name}: the conversion lost the face ({outcome})"
    if outcome != "invalid":
        served = api["staff"].get(resp.get_json()["photos"][0]["url"])
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        body = served.get_data()
        assert body.startswith(b"\xff\xd8") and b"PK\x03\x04" not in body and b"Exif" not in body[:64]
        assert served.headers["X-Content-Type-Options"] == "nosniff"


@hyp_settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_corruptions_of_a_real_photo_never_crash(app, api, db, settings, face, data):
    """Hypothesis flips, cuts and splices bytes of a real JPEG/PNG: a 4xx or an ended photo, nothing else."""
    original = _save(face.resize((96, 96)), data.draw(st.sampled_from(["JPEG", "PNG", "WEBP"]), label="format"))
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(0, 8), label="flips")):
        pos = data.draw(st.integers(0, len(raw) - 1), label="pos")
        raw[pos] = data.draw(st.integers(0, 255), label="byte")
    cut = data.draw(st.integers(8, len(raw)), label="cut")
    blob = bytes(raw[:cut]) + data.draw(st.binary(max_size=64), label="tail")
    resp = api["staff"].post("/api/v1/cases", content_type="multipart/form-data",
                             data={"photos": [(io.BytesIO(blob), "fuzz.jpg")]})
    assert resp.status_code in (201, 413, 415, 422), resp.get_data(as_text=True)[:300]
    if resp.status_code == 201:
        photo_id = resp.get_json()["photos"][0]["id"]
        assert _process(app, photo_id, settings) in ENDED
    else:
        assert resp.get_json()["error"]["field"] == "photos"
