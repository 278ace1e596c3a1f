"""The SFace engine's embedding: the mean of two passes, aligned on YuNet's and on dlib's five points."""
from __future__ import annotations

import numpy as np


def test_shape_points_agree_with_the_detector(faces_sface, faces_load):
    """dlib's five points land where YuNet's do (same eye on the same side), a few pixels apart, not swapped."""
    rgb = faces_load("Barack_Obama/1.jpg")
    face = faces_sface.analyze(rgb).primary
    yunet = np.asarray(face.landmarks, np.float64)
    shape = faces_sface._shape.five_points(rgb, face.box)
    eye_distance = np.linalg.norm(yunet[1] - yunet[0])
    assert shape.shape == (5, 2)
    assert shape[0, 0] < shape[1, 0] and shape[3, 0] < shape[4, 0]  # image-left eye and mouth corner first
    assert np.all(np.linalg.norm(shape - yunet, axis=1) < 0.25 * eye_distance)


def test_embedding_is_the_mean_of_the_two_alignments(faces_sface, faces_load):
    rgb = faces_load("Colin_Powell/2.jpg")
    face = faces_sface.analyze(rgb).primary
    passes = faces_sface.passes(rgb, face.landmarks, face.box)
    assert set(passes) == {"yunet", "yunet_mirrored", "shape", "shape_mirrored"}
    mean = passes["yunet"] + passes["shape"]
    mean /= np.linalg.norm(mean)
    assert float(face.embedding @ mean) > 0.999  # (the stored box and points are rounded)
    # Each pass alone is a different vector: the mean is closer to both than they are to each other.
    between = float(passes["yunet"] @ passes["shape"])
    assert between < 0.999
    assert float(face.embedding @ passes["yunet"]) > between and float(face.embedding @ passes["shape"]) > between


def test_the_two_alignments_bring_photos_of_one_person_closer_than_one_alone(faces_sface, faces_load):
    """On a pair of photos years apart, averaging the two alignments narrows the distance (what tta2 is for)."""
    pairs = (("Colin_Powell/1.jpg", "Colin_Powell/6.jpg"), ("George_W_Bush/1.jpg", "George_W_Bush/5.jpg"),
             ("Barack_Obama/1.jpg", "Barack_Obama/4.jpg"))
    gained = 0
    for a, b in pairs:
        faces = []
        for name in (a, b):
            rgb = faces_load(name)
            face = faces_sface.analyze(rgb).primary
            faces.append((face.embedding, faces_sface.passes(rgb, face.landmarks, face.box)["yunet"]))
        (mean_a, one_a), (mean_b, one_b) = faces
        gained += float(mean_a @ mean_b) > float(one_a @ one_b)
    assert gained >= 2


def test_the_shape_predictor_loads_only_when_a_face_is_encoded(faces_load):
    """~100 MB: the search workers ask the engine only for its version and cuts, and never hold it."""
    from service.matching.engine.landmarks import ShapeLandmarks

    shape = ShapeLandmarks()
    assert shape._predictor is None
    points = shape.five_points(faces_load("Barack_Obama/1.jpg"), (400, 100, 250, 300))
    assert shape._predictor is not None and points.shape == (5, 2)
