"""Face templates encrypted at rest: sealed, refused when touched, opened only in memory, re-keyed in batches."""
from __future__ import annotations

import dataclasses
import logging
import secrets
from contextlib import contextmanager

import numpy as np
import pytest
from sqlalchemy import select, update

from service.config import parse_key
from service.matching import candidates
from service.matching.faces import vector
from service.matching.sealed import Keyring, TemplateRefused, key_id_of, new_template_id
from service.matching.templates import key_counts, keyring, rotate
from service.models import CandidateMatch, Face, FaceTemplate
from tests.services.test_matching import candidates_of, new_case, new_report
from tests.support.faces import fresh_index  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("fresh_index")


def unit(dim=128, seed=0):
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def new_key() -> bytes:
    return parse_key("test", secrets.token_urlsafe(32))


def test_a_sealed_template_opens_only_as_it_was_sealed():
    ring, v, tid = Keyring(new_key()), unit(), new_template_id()
    sealed = ring.seal(tid, "sface-x", v)
    assert np.array_equal(ring.open(tid, "sface-x", sealed.key_id, sealed.nonce, sealed.ciphertext), v)
    assert v.tobytes() not in sealed.ciphertext and len(sealed.nonce) == 12
    assert ring.seal(tid, "sface-x", v).ciphertext != sealed.ciphertext  # a fresh nonce every time
    # A flipped bit anywhere (nonce, ciphertext, tag), another row's id, another engine, another key: refused.
    for i in range(len(sealed.ciphertext)):
        flipped = bytearray(sealed.ciphertext)
        flipped[i] ^= 0x01
        with pytest.raises(TemplateRefused):
            ring.open(tid, "sface-x", sealed.key_id, sealed.nonce, bytes(flipped))
    with pytest.raises(TemplateRefused, match="authentication_failed"):
        ring.open(tid, "sface-x", sealed.key_id, bytes([sealed.nonce[0] ^ 1]) + sealed.nonce[1:], sealed.ciphertext)
    with pytest.raises(TemplateRefused):
        ring.open(new_template_id(), "sface-x", sealed.key_id, sealed.nonce, sealed.ciphertext)
    with pytest.raises(TemplateRefused):
        ring.open(tid, "dlib-x", sealed.key_id, sealed.nonce, sealed.ciphertext)
    other = Keyring(new_key())
    with pytest.raises(TemplateRefused, match="unknown_key"):
        other.open(tid, "sface-x", sealed.key_id, sealed.nonce, sealed.ciphertext)
    assert key_id_of(new_key()) != sealed.key_id and len(sealed.key_id) == 16


@contextmanager
def template_keys(app, current: bytes, *old: bytes):
    """Run as a deployment configured with these keys (HUIJIA_TEMPLATE_KEY, HUIJIA_TEMPLATE_OLD_KEYS)."""
    saved = app.config["HUIJIA"]
    app.config["HUIJIA"] = dataclasses.replace(saved, template_key=current, template_old_keys=tuple(old))
    try:
        yield
    finally:
        app.config["HUIJIA"] = saved


def test_faces_are_stored_as_sealed_templates_under_a_pseudonym(db, users, settings, faces_dir):
    report = new_report(users, settings, faces_dir, "Barack_Obama")
    face = db.session.scalar(select(Face).where(Face.owner_kind == "report", Face.owner_id == report.id))
    template = db.session.get(FaceTemplate, face.template_id)
    assert len(template.id) == 32 and int(template.id, 16) and template.key_id == keyring().current_id
    assert {c.name for c in FaceTemplate.__table__.columns} == {"id", "engine", "key_id", "nonce", "ciphertext"}
    v = vector(face)
    assert v.shape == (128,) and abs(float(np.linalg.norm(v)) - 1) < 1e-3
    assert v.tobytes() not in template.ciphertext


def test_a_flipped_byte_in_a_stored_template_is_refused_and_never_matched(db, users, settings, faces_dir, caplog):
    report = new_report(users, settings, faces_dir, "Barack_Obama")
    face = db.session.scalar(select(Face).where(Face.owner_kind == "report", Face.owner_id == report.id))
    stored = db.session.get(FaceTemplate, face.template_id).ciphertext
    db.session.execute(update(FaceTemplate).where(FaceTemplate.id == face.template_id)
                       .values(ciphertext=stored[:40] + bytes([stored[40] ^ 0x04]) + stored[41:]))
    db.session.commit()
    db.session.expire_all()
    candidates.reset_indexes()
    with caplog.at_level(logging.ERROR, logger="service.matching.templates"):
        case = new_case(users, settings, faces_dir, "Barack_Obama", 3)
        with pytest.raises(TemplateRefused, match="authentication_failed"):
            vector(db.session.get(Face, face.id))
    assert candidates_of(case.id) == []  # the index skipped it: no proposal from a template we cannot trust
    assert f"event=template_refused face_id={face.id} template_id={face.template_id} reason=authentication_failed" in caplog.text
    # As a probe too: the report's reverse matching uses no refused vector.
    assert candidates.match_report(report.id, settings)["probes"] == 1
    assert candidates_of(case.id) == []


def test_a_template_swapped_onto_another_face_is_refused(db, users, settings, faces_dir):
    obama = new_report(users, settings, faces_dir, "Barack_Obama")
    yao = new_report(users, settings, faces_dir, "Yao_Ming")
    face_o, face_y = (db.session.scalar(select(Face).where(Face.owner_kind == "report", Face.owner_id == r.id))
                      for r in (obama, yao))
    t_o = db.session.get(FaceTemplate, face_o.template_id)
    # Obama's sealed bytes copied into Yao's template row: an attacker moving a face to another identity.
    db.session.execute(update(FaceTemplate).where(FaceTemplate.id == face_y.template_id)
                       .values(nonce=t_o.nonce, ciphertext=t_o.ciphertext, key_id=t_o.key_id))
    db.session.commit()
    db.session.expire_all()
    with pytest.raises(TemplateRefused):
        vector(db.session.get(Face, face_y.id))
    assert vector(db.session.get(Face, face_o.id)).shape == (128,)
    candidates.reset_indexes()
    case = new_case(users, settings, faces_dir, "Barack_Obama", 3)
    assert [r.report_id for r in candidates_of(case.id)] == [obama.id]


def test_key_rotation_on_a_populated_gallery_resumes_and_matching_still_works(app, db, users, settings, faces_dir):
    people = {"Barack_Obama": 1, "Yao_Ming": 1, "Jackie_Chan": 2, "Tony_Blair": 1}  # report photos
    reports = {who: new_report(users, settings, faces_dir, who, n) for who, n in people.items()}
    old, new = settings.template_key, new_key()
    total = db.session.query(FaceTemplate).count()
    assert total >= len(people) and key_counts() == {key_id_of(old): total}

    with template_keys(app, new, old):  # step 1: new key in force, old key still read
        candidates.reset_indexes()
        first = rotate(keyring(), batch_size=1, max_batches=2)  # stopped after two batches: a crash, a Ctrl-C
        assert (first["reencrypted"], first["remaining"]) == (2, total - 2)
        assert key_counts() == {key_id_of(new): 2, key_id_of(old): total - 2}
        # Half rotated: both keys are read, matching goes on.
        obama = new_case(users, settings, faces_dir, "Barack_Obama", 3)
        assert [r.report_id for r in candidates_of(obama.id)] == [reports["Barack_Obama"].id]
        result = app.test_cli_runner().invoke(args=["templates", "rotate-key", "--batch-size", "2"])
        assert result.exit_code == 0, result.output
        assert "refused 0, still under other keys 0" in result.output
        assert set(key_counts()) == {key_id_of(new)}

    with template_keys(app, new):  # step 2: the old key removed
        candidates.reset_indexes()
        jackie = new_case(users, settings, faces_dir, "Jackie_Chan", 3)
        assert [r.report_id for r in candidates_of(jackie.id)] == [reports["Jackie_Chan"].id]
        status = app.test_cli_runner().invoke(args=["templates", "status"])
        assert f"{key_id_of(new)}" in status.output and "NO KEY" not in status.output

    with template_keys(app, old):  # the old key alone reads nothing any more
        face = db.session.scalar(select(Face).where(Face.template_id.is_not(None)).limit(1))
        db.session.expire_all()
        with pytest.raises(TemplateRefused, match="unknown_key"):
            vector(db.session.get(Face, face.id))
    assert CandidateMatch.query.count() == 2


def test_rotation_stops_when_a_key_is_missing_and_takes_the_old_key_as_an_option(app, db, users, settings, faces_dir):
    new_report(users, settings, faces_dir, "Barack_Obama")
    old_text = secrets.token_urlsafe(32)
    new = new_key()
    with template_keys(app, parse_key("old", old_text)):
        new_report(users, settings, faces_dir, "Yao_Ming")
    with template_keys(app, new):
        refused = app.test_cli_runner().invoke(args=["templates", "rotate-key"])
        assert refused.exit_code != 0 and "give the old key" in refused.output
        assert key_id_of(new) not in key_counts()  # nothing half-done
        done = app.test_cli_runner().invoke(args=["templates", "rotate-key", "--old-key", old_text])
        assert done.exit_code == 1 and "no key for key id" in done.output  # the first report's key is still missing
        both = app.test_cli_runner().invoke(args=["templates", "rotate-key", "--old-key", old_text, "--old-key",
                                                  _text(settings.template_key)])
        assert both.exit_code == 0, both.output
        assert set(key_counts()) == {key_id_of(new)}


def _text(key: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(key).decode().rstrip("=")
