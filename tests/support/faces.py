"""Real photographs into the services, and their processing in this process (no worker)."""
from __future__ import annotations

from pathlib import Path

import pytest

from service.models import Photo
from service.matching import candidates, photos as pipeline
from service.services.intake import Upload


def photo(faces_dir: Path, identity: str, n: int) -> Upload:
    path = faces_dir / identity / f"{n}.jpg"
    return Upload(path.name, path.read_bytes())


def process_all(settings) -> None:
    """Run every pending photo through the real engine, oldest first."""
    for pid in [p.id for p in Photo.query.filter_by(status="pending").order_by(Photo.id)]:
        pipeline.process_photo(pid, settings)


@pytest.fixture()
def fresh_index():
    """Tables are emptied per test; so is this process's gallery index cache."""
    candidates.reset_indexes()
    yield
    candidates.reset_indexes()
