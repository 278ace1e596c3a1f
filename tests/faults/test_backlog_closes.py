"""A photo that ends without a usable face still closes its case's matching (no wait for the sweeper).

Found by the load campaign (bench/load/run.py): cases whose only photo had no face or several faces
stayed `matching_status: pending` until the sweeper re-queued them minutes later.
"""
from __future__ import annotations

import io

import pytest
from PIL import Image

from service import tasking
from service.matching import candidates, photos as pipeline
from service.services.intake import Upload, register_arrival


@pytest.mark.parametrize("kind", ["no_face", "invalid"])
def test_photo_without_a_usable_face_still_queues_matching(db, users, settings, monkeypatch, kind):
    from service.extensions import celery
    from service.services.intake import photo_file

    sent = []
    monkeypatch.setattr(celery, "send_task", lambda name, args=None, **kw: sent.append((name, args)))
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 140, 200 + len(kind))).save(buf, "JPEG")  # sky (its own file per case): no face
    case = register_arrival(users["staff"], {"name": "无脸"}, [Upload("sky.jpg", buf.getvalue())], settings).case
    photo = case.photos[0]
    if kind == "invalid":
        photo_file(settings.media_dir, photo, normalized=False).write_bytes(b"\xff\xd8\xff garbage")
    assert pipeline.process_photo(photo.id, settings).result == kind
    assert (tasking.MATCH_CASE, [case.id]) in sent
    candidates.reset_indexes()
    candidates.match_case(case.id, settings)
    db.session.refresh(case)
    assert case.matching_status == "done"
