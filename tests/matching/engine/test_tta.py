"""The SFace engine's embedding: the mean of four passes (YuNet's and dlib's five points, each mirrored)."""
from __future__ import annotations

import numpy as np

from service.matching.engine.align import align_face


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


def test_embedding_is_the_mean_of_four_passes(faces_sface, faces_load):
    rgb = faces_load("Colin_Powell/2.jpg")
    face = faces_sface.analyze(rgb).primary
    passes = []
    for points in (np.asarray(face.landmarks, np.float64), faces_sface._shape.five_points(rgb, face.box)):
        aligned = align_face(rgb, points)
        passes += [faces_sface._embed_aligned(aligned), faces_sface._embed_aligned(np.ascontiguousarray(aligned[:, ::-1]))]
    mean = np.sum(passes, axis=0)
    mean /= np.linalg.norm(mean)
    assert float(face.embedding @ mean) > 0.999  # (the stored box and points are rounded)
    single = faces_sface.single_pass_embedding(rgb, face.landmarks)
    assert float(face.embedding @ single) < float(face.embedding @ mean) - 0.005  # the augmentation moves the vector


def test_a_mirrored_photo_embeds_alike(faces_sface, faces_load):
    """Both alignments are averaged with their mirror images, so the person mirrored is the same template."""
    rgb = faces_load("George_W_Bush/2.jpg")
    straight = faces_sface.analyze(rgb).primary.embedding
    mirrored = faces_sface.analyze(np.ascontiguousarray(rgb[:, ::-1])).primary.embedding
    single_straight = faces_sface.single_pass_embedding(rgb, faces_sface.analyze(rgb).primary.landmarks)
    m = faces_sface.analyze(np.ascontiguousarray(rgb[:, ::-1])).primary
    single_mirrored = faces_sface.single_pass_embedding(np.ascontiguousarray(rgb[:, ::-1]), m.landmarks)
    assert float(straight @ mirrored) > 0.97
    assert float(straight @ mirrored) > float(single_straight @ single_mirrored)
