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


def with_bystander(faces_dir: Path, subject: str, bystander: str, side: int = 160, corner: str = "top-left") -> Upload:
    """A dev-set photo with a smaller photo of someone else pasted into a corner (a passer-by, a relative)."""
    import io

    from PIL import Image

    base = Image.open(faces_dir / subject).convert("RGB")
    small = Image.open(faces_dir / bystander).convert("RGB")
    scale = side / max(small.size)
    small = small.resize((round(small.width * scale), round(small.height * scale)))
    x = 0 if "left" in corner else base.width - small.width
    y = 0 if "top" in corner else base.height - small.height
    base.paste(small, (x, y))
    buf = io.BytesIO()
    base.save(buf, "JPEG", quality=92)
    return Upload("with-bystander.jpg", buf.getvalue())


def side_by_side(faces_dir: Path, left: str, right: str, side: int = 300) -> Upload:
    """Two people of the same size next to each other: no face is the photo's subject."""
    import io

    from PIL import Image

    a = Image.open(faces_dir / left).convert("RGB").resize((side, side))
    b = Image.open(faces_dir / right).convert("RGB").resize((side, side))
    both = Image.new("RGB", (2 * side, side))
    both.paste(a, (0, 0))
    both.paste(b, (side, 0))
    buf = io.BytesIO()
    both.save(buf, "JPEG")
    return Upload("two.jpg", buf.getvalue())
