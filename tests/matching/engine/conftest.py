"""Fixtures for the face engine tests: the dev photos, engines, and a small cached set of encodings."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from service.matching.engine import decode_image, get_engine

PROJECT_ROOT = Path(__file__).resolve().parents[3]
FACES_DIR = Path(os.environ.get("HUIJIA_FACES", PROJECT_ROOT.parent / "shared" / "faces"))

# Two photos each of 12 people, 6 of them East Asian (the group whose impostors sit closest).
SUBSET = (
    "Chen_Shui-bian", "Li_Peng", "Jackie_Chan", "Yao_Ming", "Lucy_Liu", "Zhu_Rongji",
    "Barack_Obama", "Colin_Powell", "Tony_Blair", "Tom_Hanks", "Jessica_Alba", "ian_malcolm",
)
SUBSET_PHOTOS = ("1.jpg", "2.jpg")

# Encodings survive across tests and modules of one session: engine name -> file -> embedding.
_ENCODINGS: dict[str, dict[str, np.ndarray]] = {}


@pytest.fixture(scope="session")
def faces_root() -> Path:
    if not (FACES_DIR / "manifest.csv").exists():
        pytest.skip(f"dev face photographs not found at {FACES_DIR} (set HUIJIA_FACES)")
    return FACES_DIR


@pytest.fixture(scope="session")
def faces_manifest(faces_root) -> dict[str, list[str]]:
    """identity -> its photo files (relative to faces_root), in manifest order."""
    people: dict[str, list[str]] = {}
    with open(faces_root / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            people.setdefault(row["identity"], []).append(row["file"])
    return people


@pytest.fixture(scope="session")
def faces_load(faces_root):
    """file -> decoded RGB array."""

    def load(file: str) -> np.ndarray:
        return decode_image((faces_root / file).read_bytes())

    return load


@pytest.fixture(scope="session")
def faces_sface():
    return get_engine("sface")


@pytest.fixture(scope="session", params=["sface", "dlib"])
def faces_engine(request):
    return get_engine(request.param)


@pytest.fixture(scope="session")
def faces_encode(faces_load):
    """(engine, file) -> embedding of the photo's largest face (the labelled one), cached."""

    def encode(engine, file: str) -> np.ndarray:
        cache = _ENCODINGS.setdefault(engine.name, {})
        if file not in cache:
            analysis = engine.analyze(faces_load(file))
            assert analysis.faces, f"{engine.name} found no face in {file}"
            cache[file] = analysis.faces[0].embedding
        return cache[file]

    return encode


@pytest.fixture(scope="session")
def faces_subset(faces_root, faces_manifest) -> list[tuple[str, str]]:
    """(identity, file) for the fixed subset."""
    missing = [p for p in SUBSET if p not in faces_manifest]
    assert not missing, f"dev set lacks {missing}"
    return [(person, f"{person}/{photo}") for person in SUBSET for photo in SUBSET_PHOTOS]
