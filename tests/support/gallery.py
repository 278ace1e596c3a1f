"""A synthetic gallery in the database: reports with one face each, and arrivals who are another photo of one of them.

Faces are clustered like real embeddings (service/matching/index/synthetic.py), written straight to the
tables as the photo worker would leave them (processed photo, selected face), so the search path runs on
exactly what it reads in production without the face engine.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from service.extensions import db
from service.matching.engine.sface import SFaceEngine
from service.matching.index.synthetic import _photos, synthetic_gallery
from service.matching.templates import new_template
from service.models import Face, GalleryReport, Photo, Station
from tests.support.casefactory import make_case

ENGINE = SFaceEngine.version  # the default engine's version: what the search worker searches for


@dataclass
class SyntheticGallery:
    report_of_case: dict[int, int]  # case id -> the report that is the same person
    case_ids: list[int]
    report_ids: list[int]


def fill_gallery(station: Station, n_reports: int, n_cases: int, seed: int = 3) -> SyntheticGallery:
    gallery = synthetic_gallery(n_reports, photos_per_identity=(1, 1), seed=seed)
    rng = np.random.default_rng(seed + 1)
    reports = [GalleryReport(status="open", source="import", external_id=f"syn-{i}", gender="male",
                             matching_status="done") for i in range(n_reports)]
    db.session.add_all(reports)
    db.session.flush()
    for report, vector in zip(reports, gallery.vectors):
        _face(vector, report_id=report.id)
    arrived = datetime(2026, 11, 1, 8, tzinfo=timezone.utc)
    who = rng.choice(n_reports, n_cases, replace=False)
    case_vectors = _photos(gallery.centres, gallery.identity_of[who], rng)
    report_of_case = {}
    for identity, vector in zip(who.tolist(), case_vectors):
        case = make_case(station, arrived, gender="male")
        case.matching_status = "pending"  # photos processed, matching not run yet
        _face(vector, case_id=case.id)
        report_of_case[case.id] = reports[identity].id
    db.session.commit()
    return SyntheticGallery(report_of_case, list(report_of_case), [r.id for r in reports])


def _face(vector: np.ndarray, *, report_id: int | None = None, case_id: int | None = None) -> Face:
    photo = Photo(report_id=report_id, case_id=case_id, sha256=f"{np.random.default_rng().integers(1 << 62):064x}",
                  mime="image/jpeg", size_bytes=0, width=0, height=0, status="processed", attempts=1)
    db.session.add(photo)
    db.session.flush()
    template = new_template(ENGINE, np.asarray(vector, np.float32))
    db.session.add(template)
    face = Face(photo_id=photo.id, engine=ENGINE, face_index=0, owner_kind="report" if report_id else "case",
                owner_id=report_id or case_id, box=[0, 0, 0, 0], det_score=1.0, quality={}, quality_ok=True,
                template_id=template.id, selected=True)
    db.session.add(face)
    return face
