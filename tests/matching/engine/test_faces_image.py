"""Decoding: orientation, odd pixel formats, bombs and broken files; downscale and display crops."""
from __future__ import annotations

import io
import resource
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from service.matching.engine import FaceImageError, crop_face_jpeg, decode_image, downscale, get_engine


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming width x height, with a few bytes of pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def test_exif_orientation_is_applied(faces_load, faces_root):
    upright = faces_load("Barack_Obama/1.jpg")
    sideways = Image.fromarray(upright).rotate(90, expand=True)  # stored turned left, as a phone does
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = _encode(sideways, "JPEG", quality=95, exif=exif)

    rgb = decode_image(data)

    assert rgb.shape == upright.shape
    assert np.abs(rgb.astype(int) - upright.astype(int)).mean() < 4  # only JPEG noise, not a rotation
    assert decode_image(_encode(sideways, "JPEG", quality=95)).shape == (upright.shape[1], upright.shape[0], 3)


def test_decompression_bomb_is_refused_before_allocating():
    before = _max_rss_mb()
    started = time.perf_counter()
    for width, height in ((20000, 20000), (9000, 9000)):  # Pillow's own limit, then ours (40 MP)
        with pytest.raises(FaceImageError) as err:
            decode_image(_png_header_only(width, height))
        assert err.value.reason_code == "too_large"
    assert time.perf_counter() - started < 1.0
    # 9000 x 9000 RGB alone would be 243 MB; nothing close to that was allocated.
    assert _max_rss_mb() - before < 100


def test_megapixel_limit_is_configurable(faces_root):
    data = (faces_root / "Barack_Obama/1.jpg").read_bytes()  # 1024 x 576 = 0.59 MP
    with pytest.raises(FaceImageError, match="limit 0.5 MP") as err:
        decode_image(data, max_megapixels=0.5)
    assert err.value.reason_code == "too_large"
    assert decode_image(data, max_megapixels=1).shape == (576, 1024, 3)


def test_truncated_jpeg_is_refused(faces_root):
    get_engine("dlib")  # importing face_recognition flips Pillow's LOAD_TRUNCATED_IMAGES; it must not stick
    data = (faces_root / "Barack_Obama/1.jpg").read_bytes()
    with pytest.raises(FaceImageError) as err:
        decode_image(data[: len(data) // 2])
    assert err.value.reason_code == "corrupt"


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"identity,file\nzhang_wei,1.jpg\n", "not_an_image"),
        ("姓名：张伟".encode("utf-8"), "not_an_image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "not_an_image"),  # a JPEG signature and nothing usable
        (b"", "empty"),
    ],
)
def test_non_images_are_refused(data, reason):
    with pytest.raises(FaceImageError) as err:
        decode_image(data)
    assert err.value.reason_code == reason


def test_cmyk_palette_alpha_and_grey_become_rgb():
    base = Image.new("RGB", (40, 30), (200, 40, 10))
    cases = {
        "cmyk_jpeg": _encode(base.convert("CMYK"), "JPEG", quality=95),
        "palette_png": _encode(base.convert("P"), "PNG"),
        "grey_png": _encode(base.convert("L"), "PNG"),
        "one_bit_png": _encode(base.convert("1"), "PNG"),
        "rgba_png": _encode(base.convert("RGBA"), "PNG"),
    }
    for name, data in cases.items():
        rgb = decode_image(data)
        assert rgb.shape == (30, 40, 3) and rgb.dtype == np.uint8, name
    assert np.abs(decode_image(cases["cmyk_jpeg"])[15, 20].astype(int) - (200, 40, 10)).max() < 12


def test_transparent_pixels_become_white():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    rgba.putpixel((5, 5), (0, 0, 255, 255))
    rgb = decode_image(_encode(rgba, "PNG"))
    assert tuple(rgb[0, 0]) == (255, 255, 255)
    assert tuple(rgb[5, 5]) == (0, 0, 255)
    palette = rgba.convert("P")  # palette with a transparent index
    data = _encode(palette, "PNG", transparency=palette.getpixel((0, 0)))
    assert tuple(decode_image(data)[0, 0]) == (255, 255, 255)


def test_sixteen_bit_grey_is_scaled_not_clipped():
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    img = Image.fromarray(values)  # mode I;16
    rgb = decode_image(_encode(img, "PNG"))
    assert rgb.shape == (1, 3, 3)
    assert rgb[0, :, 0].tolist() == [0, 128, 255]


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((0, 200, 0), (200, 0, 0))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    rgb = decode_image(data)
    assert rgb.shape == (16, 16, 3)
    assert rgb[8, 8, 1] > 150 and rgb[8, 8, 0] < 50


def test_downscale_returns_scale_that_maps_back():
    rgb = np.zeros((1500, 3000, 3), np.uint8)
    small, scale = downscale(rgb, 1024)
    assert small.shape == (512, 1024, 3)
    assert scale == pytest.approx(1024 / 3000)
    same, one = downscale(small, 1024)
    assert same is small and one == 1.0


def test_crop_face_jpeg_is_square_even_at_the_edge():
    rgb = np.full((200, 300, 3), 90, np.uint8)
    for box in ((100, 50, 80, 100), (0, 0, 60, 60), (270, 170, 30, 30)):
        data = crop_face_jpeg(rgb, box, margin=0.25, size=160)
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "JPEG" and img.size == (160, 160)
    with pytest.raises(FaceImageError):
        crop_face_jpeg(rgb, (400, 400, 10, 10), margin=0.0)
