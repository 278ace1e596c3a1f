"""Photo analysis: statuses, coordinates, EXIF-rotated uploads, re-encoding, distances, engine cache."""
from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from service.matching.engine import FaceImageError, PhotoAnalysis, analyze_bytes, get_engine


def _side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    height = max(left.shape[0], right.shape[0])
    canvas = np.full((height, left.shape[1] + right.shape[1], 3), 128, np.uint8)
    canvas[: left.shape[0], : left.shape[1]] = left
    canvas[: right.shape[0], left.shape[1] :] = right
    return canvas


def test_single_face_photo_is_processed(faces_engine, faces_load):
    rgb = faces_load("Barack_Obama/1.jpg")
    analysis = faces_engine.analyze(rgb)

    assert (analysis.status, analysis.status_reason) == ("processed", None)
    assert (analysis.width, analysis.height) == (1024, 576)
    face = analysis.primary
    assert face is analysis.faces[0] and len(analysis.faces) == 1
    x, y, w, h = face.box
    assert 0 <= x < x + w <= 1024 and 0 <= y < y + h <= 576 and w > 150
    assert face.embedding.dtype == np.float32 and face.embedding.shape == (faces_engine.dim,)
    assert face.quality_ok and face.quality_reason is None
    assert len(face.landmarks) == 5
    json.dumps(analysis.to_dict())  # storable as photo metadata


def test_two_faces_side_by_side_is_multiple_faces(faces_engine, faces_load):
    rgb = _side_by_side(faces_load("Colin_Powell/1.jpg"), faces_load("George_W_Bush/1.jpg"))
    analysis = faces_engine.analyze(rgb)

    assert analysis.status == "multiple_faces"
    assert analysis.primary is None  # staff choose the face, the engine never does
    assert len(analysis.faces) == 2
    centres = sorted(f.box[0] + f.box[2] / 2 for f in analysis.faces)
    assert centres[0] < 250 < centres[1]  # one face in each half, in original coordinates
    assert all(f.embedding.shape == (faces_engine.dim,) for f in analysis.faces)


def test_small_background_face_is_reported_but_not_multiple(faces_sface, faces_load):
    rgb = faces_load("Barack_Obama/1.jpg").copy()
    bystander = cv2.resize(faces_load("Colin_Powell/1.jpg"), (90, 90), interpolation=cv2.INTER_AREA)
    rgb[20:110, 20:110] = bystander
    analysis = faces_sface.analyze(rgb)

    assert len(analysis.faces) == 2
    assert analysis.status == "processed"
    assert analysis.primary.box[2] > 150  # the large face, listed first
    assert analysis.faces[1].box[0] < 110 and analysis.faces[1].box[1] < 110


def test_blank_image_has_no_face(faces_engine):
    analysis = faces_engine.analyze(np.full((480, 640, 3), 200, np.uint8))
    assert (analysis.status, analysis.faces, analysis.primary) == ("no_face", [], None)


def test_exif_rotated_upload_gives_the_same_face(faces_sface, faces_root, faces_load):
    upright = faces_load("Barack_Obama/1.jpg")
    reference = faces_sface.analyze(upright).primary
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned right; "rotate 90 degrees anticlockwise to display"
    buf = io.BytesIO()
    Image.fromarray(upright).rotate(-90, expand=True).save(buf, "JPEG", quality=95, exif=exif)

    analysis = analyze_bytes(buf.getvalue(), faces_sface)

    assert analysis.status == "processed"
    assert (analysis.width, analysis.height) == (1024, 576)
    assert np.abs(np.subtract(analysis.primary.box, reference.box)).max() <= 6
    assert faces_sface.distance(analysis.primary.embedding, reference.embedding) < 0.05


def test_large_photo_boxes_map_back_to_original_coordinates(faces_sface, faces_load):
    rgb = faces_load("Barack_Obama/1.jpg")
    big = cv2.resize(rgb, (2048, 1152), interpolation=cv2.INTER_CUBIC)  # detection runs at 1024
    small_face = faces_sface.analyze(rgb).primary
    big_face = faces_sface.analyze(big).primary
    assert np.abs(np.subtract(big_face.box, np.multiply(small_face.box, 2))).max() <= 8
    assert faces_sface.distance(big_face.embedding, small_face.embedding) < 0.05


def test_encode_face_reproduces_the_embedding(faces_engine, faces_load):
    rgb = faces_load("Colin_Powell/1.jpg")
    face = faces_engine.analyze(rgb).primary
    assert faces_engine.distance(faces_engine.encode_face(rgb, face), face.embedding) < 1e-4


def test_encode_face_from_a_drawn_box_finds_the_landmarks(faces_sface, faces_load):
    rgb = faces_load("Colin_Powell/1.jpg")
    face = faces_sface.analyze(rgb).primary
    x, y, w, h = face.box
    drawn = type(face)(box=(x - 5, y + 4, w + 8, h - 6), landmarks=None, det_score=1.0, embedding=face.embedding,
                       quality={}, quality_ok=True, quality_reason=None)
    # Landmarks found in a tighter context move by a few pixels: far closer than any other person.
    assert faces_sface.distance(faces_sface.encode_face(rgb, drawn), face.embedding) < 0.15
    empty = type(face)(box=(0, 0, 40, 40), landmarks=None, det_score=1.0, embedding=face.embedding,
                       quality={}, quality_ok=True, quality_reason=None)
    with pytest.raises(FaceImageError):
        faces_sface.encode_face(np.full((250, 250, 3), 128, np.uint8), empty)


def test_distances_are_lower_for_closer_faces(faces_engine):
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(2, faces_engine.dim)).astype(np.float32)
    if faces_engine.metric == "cosine":
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    assert faces_engine.distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert faces_engine.distance(a, b) == pytest.approx(faces_engine.distance(b, a), abs=1e-6)
    assert faces_engine.distance(a, b) > faces_engine.distance(a, a + 0.01 * b)
    assert faces_engine.similarity(a, b) == pytest.approx(1.0 - faces_engine.distance(a, b))
    gallery = np.stack([a, b, a + 0.01 * b])
    expected = [faces_engine.distance(a, g) for g in gallery]
    np.testing.assert_allclose(faces_engine.distances(a, gallery), expected, atol=1e-5)
    assert faces_engine.is_match(a, a) and not faces_engine.is_match(a, b)


def test_engines_are_cached_and_named():
    assert get_engine() is get_engine("sface")
    sface = get_engine("sface")
    assert (sface.name, sface.metric, sface.dim) == ("sface", "cosine", 128)
    assert sface.version == "sface-2021dec-int8bq-tta2"
    with pytest.raises(ValueError, match="unknown face engine"):
        get_engine("facenet")


def test_analyze_rejects_non_rgb_arrays(faces_sface):
    with pytest.raises(ValueError):
        faces_sface.analyze(np.zeros((100, 100), np.uint8))
    with pytest.raises(ValueError):
        faces_sface.analyze(np.zeros((100, 100, 3), np.float32))


def test_analyze_bytes_refuses_text(faces_sface):
    with pytest.raises(FaceImageError) as err:
        analyze_bytes(b"not a photo", faces_sface)
    assert err.value.reason_code == "not_an_image"
    png = cv2.imencode(".png", np.zeros((50, 50, 3), np.uint8))[1].tobytes()
    assert analyze_bytes(png, "sface").status == "no_face"
