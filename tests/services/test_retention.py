"""Biometric retention: after the retention period nothing biometric of a returned person remains."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from service.models import AuditEntry, Face, Photo
from service.models.types import utcnow
from service.services import retention
from service.matching import candidates, photos as pipeline
from service.services.intake import Upload, register_arrival
from service.media import media_path


def _case(users, settings, faces_dir, ident, n):
    up = Upload("p.jpg", (faces_dir / ident / f"{n}.jpg").read_bytes())
    case = register_arrival(users["staff"], {}, [up], settings).case
    pipeline.process_photo(case.photos[0].id, settings)
    return case


def test_returned_case_is_erased_after_retention_and_others_keep_theirs(db, users, settings, faces_dir):
    candidates.reset_indexes()
    home = _case(users, settings, faces_dir, "Tony_Blair", 1)
    settled = _case(users, settings, faces_dir, "Tony_Blair", 2)
    recent = _case(users, settings, faces_dir, "Tony_Blair", 3)
    long_ago = utcnow() - timedelta(days=settings.biometric_retention_days + 1)
    home.state, home.closed_at = "returned", long_ago
    settled.state, settled.closed_at = "settled", long_ago
    recent.state, recent.closed_at = "returned", utcnow() - timedelta(days=2)
    db.session.commit()
    crops = [f.crop_sha256 for f in Face.query.join(Photo).filter(Photo.case_id == home.id)]
    assert crops and all(media_path(settings.media_dir, c, "jpg").exists() for c in crops)

    assert retention.due_for_erasure(settings.biometric_retention_days) == [home.id]
    result = retention.erase_case_biometrics(home.id, settings)
    assert result["faces"] == len(crops)
    assert Face.query.join(Photo).filter(Photo.case_id == home.id).count() == 0
    assert not any(media_path(settings.media_dir, c, "jpg").exists() for c in crops)
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "biometric.erase",
                                                      AuditEntry.object_id == home.id)) is not None
    # Nothing of the erased person can be matched any more.
    candidates.match_case(recent.id, settings)
    from service.models import CandidateMatch

    assert {(c.case_id, c.other_case_id) for c in CandidateMatch.query} <= {(recent.id, settled.id), (settled.id, recent.id)}
    assert Face.query.join(Photo).filter(Photo.case_id == settled.id).count() >= 1
    assert Face.query.join(Photo).filter(Photo.case_id == recent.id).count() >= 1
    assert retention.due_for_erasure(settings.biometric_retention_days) == []  # idempotent
