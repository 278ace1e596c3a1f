"""Face templates in the database: sealed when written, opened in memory for matching, erased, re-keyed.

The `face_template` table holds only a pseudonym, the engine, the key id, the nonce and the ciphertext
(matching.sealed). A refused template (tampered, swapped, unknown key) is logged and never used as a vector.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from flask import current_app
from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import Face, FaceTemplate
from .sealed import Keyring, TemplateRefused, new_template_id

log = logging.getLogger(__name__)

# The columns the index loader reads with each face (see candidates._load_rows).
SEALED_COLUMNS = (FaceTemplate.id.label("template_id"), FaceTemplate.key_id, FaceTemplate.nonce, FaceTemplate.ciphertext)


@lru_cache(maxsize=4)
def _keyring(current: bytes, retired: tuple[bytes, ...]) -> Keyring:
    return Keyring(current, retired)


def keyring(settings=None) -> Keyring:
    """The keys of the running settings (HUIJIA_TEMPLATE_KEY, HUIJIA_TEMPLATE_OLD_KEYS)."""
    settings = settings or current_app.config["HUIJIA"]
    return _keyring(settings.template_key, settings.template_old_keys)


def init_app(app) -> None:
    """Build the keyring at boot: a missing `cryptography` or a bad key stops the app, not a photo later."""
    keyring(app.config["HUIJIA"])


def new_template(engine: str, vector) -> FaceTemplate:
    template_id = new_template_id()
    sealed = keyring().seal(template_id, engine, vector)
    return FaceTemplate(id=template_id, engine=engine, key_id=sealed.key_id, nonce=sealed.nonce,
                        ciphertext=sealed.ciphertext)


def _open(template_id: str, engine: str, key_id: str, nonce: bytes, ciphertext: bytes, face_id) -> np.ndarray:
    try:
        return keyring().open(template_id, engine, key_id, nonce, ciphertext)
    except TemplateRefused as exc:
        log.error("event=template_refused face_id=%s template_id=%s reason=%s", face_id, template_id, exc.reason)
        raise


def vector_of(face: Face) -> np.ndarray:
    """The face's vector, opened under the face's own engine: a template moved to another face or engine fails."""
    template = face.template
    if template is None:
        raise TemplateRefused("-", "erased")
    return _open(template.id, face.engine, template.key_id, template.nonce, template.ciphertext, face.id)


def vector_or_empty(row, engine: str) -> np.ndarray:
    """For the index loader: the vector, or an empty one the index skips (the row still moves the watermark)."""
    try:
        return _open(row.template_id, engine, row.key_id, row.nonce, row.ciphertext, row.id)
    except TemplateRefused:
        return np.empty(0, np.float32)


def delete_of_faces(*where) -> int:
    """Delete the templates of the faces matching `where` (before the faces themselves)."""
    ids = select(Face.template_id).where(*where, Face.template_id.is_not(None))
    return db.session.execute(delete(FaceTemplate).where(FaceTemplate.id.in_(ids))).rowcount or 0


def delete_orphans() -> int:
    """Templates no face points to any more (a photo or owner deleted with its faces): erased too."""
    # NOT EXISTS, an anti-join on the unique index of face.template_id (NOT IN would compare row by row).
    used = select(Face.id).where(Face.template_id == FaceTemplate.id).exists()
    removed = db.session.execute(delete(FaceTemplate).where(~used)).rowcount or 0
    db.session.commit()
    if removed:
        log.info("event=orphan_templates_erased count=%d", removed)
    return removed


def key_counts() -> dict[str, int]:
    """Templates per key id."""
    return dict(db.session.execute(select(FaceTemplate.key_id, func.count()).group_by(FaceTemplate.key_id)).all())


def rotate(ring: Keyring, batch_size: int = 500, max_batches: int | None = None,
           progress: Callable[[dict], None] | None = None) -> dict:
    """Re-seal every template not under the current key, a committed batch at a time: stopped anywhere, a
    second run goes on with what is left. Refused templates are logged, counted and left as they are."""
    missing = sorted(set(key_counts()) - ring.key_ids)
    if missing:
        raise TemplateRefused("-", f"no key for key id(s) {', '.join(missing)}: give the old key")
    done, refused, batches, after = 0, 0, 0, ""
    while max_batches is None or batches < max_batches:
        rows = db.session.scalars(
            select(FaceTemplate).where(FaceTemplate.key_id != ring.current_id, FaceTemplate.id > after)
            .order_by(FaceTemplate.id).limit(batch_size).with_for_update(skip_locked=True)
        ).all()
        if not rows:
            break
        for template in rows:
            try:
                vector = ring.open(template.id, template.engine, template.key_id, template.nonce, template.ciphertext)
            except TemplateRefused as exc:
                log.error("event=template_refused template_id=%s reason=%s during=rotation", template.id, exc.reason)
                refused += 1
                continue
            sealed = ring.seal(template.id, template.engine, vector)
            template.key_id, template.nonce, template.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
            done += 1
        after = rows[-1].id
        db.session.commit()
        batches += 1
        if progress:
            progress({"reencrypted": done, "refused": refused, "batches": batches})
    remaining = db.session.scalar(select(func.count()).select_from(FaceTemplate)
                                  .where(FaceTemplate.key_id != ring.current_id)) or 0
    log.info("event=template_key_rotation key_id=%s reencrypted=%d refused=%d remaining=%d", ring.current_id, done,
             refused, remaining)
    return {"key_id": ring.current_id, "reencrypted": done, "refused": refused, "remaining": remaining,
            "batches": batches}
