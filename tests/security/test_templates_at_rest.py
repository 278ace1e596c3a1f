"""No face template stands plain at rest: every column of every table, on PostgreSQL and SQLite, holds no
128- or 512-number vector of unit norm (bytes read as float32/float64 at every offset, text as numbers).

Two ways in: a gallery the app filled (arrivals, reports, a street lead, matched and reviewed), dumped over
SQL; and databases of the old schema with plain embeddings, upgraded by migration 0008 — dumped over SQL
and read as files (the SQLite file; PostgreSQL's heap files of `face` when this process can read them), so
the dropped column's bytes are shown gone from the disk, not only from the schema.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from service.config import PROJECT_ROOT, parse_key
from service.matching import candidates
from service.matching.faces import vector
from service.matching.sealed import Keyring
from service.models import CandidateMatch, Face
from service.services import leads, review
from service.services.intake import register_arrival
from service.services.reports import create_report
from tests.support import vectors
from tests.support.faces import fresh_index, photo, process_all  # noqa: F401  (fresh_index: a fixture)

BEFORE = "0005_street_leads"  # the schema with the plain `face.embedding` column


def dump(engine: sa.Engine) -> tuple[list[vectors.Found], dict[str, int]]:
    """Every value of every column of every table, through SQL; returns what was found and values read."""
    found, read = [], {}
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                name = f"{table}.{column['name']}"
                values = conn.execute(sa.text(f'SELECT "{column["name"]}" FROM "{table}"')).scalars().all()
                read[name] = sum(v is not None for v in values)
                for value in values:
                    found += vectors.in_value(value, name)
    return found, read


def test_the_scan_finds_a_template_however_it_is_stored():
    v = np.random.default_rng(1).standard_normal(512).astype(np.float32)
    v /= np.linalg.norm(v)
    for stored in (v[:128] / np.linalg.norm(v[:128]), v):
        assert vectors.in_value(stored.tobytes())  # bytea / BLOB
        assert vectors.in_value(b"\x07" * 3 + stored.tobytes() + b"tail")  # at an odd offset
        assert vectors.in_value(stored.astype(np.float64).tobytes())
        assert vectors.in_value(stored.tolist())  # a JSON column
        assert vectors.in_value(" ".join(f"{x:.6f}" for x in stored))  # text
    assert not vectors.in_value(os.urandom(4096)) and not vectors.in_value([0.0] * 600) and not vectors.in_value([1] + [0] * 200)


# -- a gallery the app filled, dumped over SQL (PostgreSQL)

@pytest.mark.usefixtures("fresh_index")
def test_no_face_vector_in_any_postgres_column_of_a_populated_gallery(db, users, settings, faces_dir):
    staff = users["staff"]
    for who, n in (("Barack_Obama", 1), ("Yao_Ming", 1), ("Jackie_Chan", 2)):
        create_report(staff, {"name": who}, [photo(faces_dir, who, n)], settings)
    create_report(staff, {"name": "未成年", "age_at_missing": 9}, [photo(faces_dir, "Daniel_Radcliffe", 1)], settings)
    cases = [register_arrival(staff, {}, [photo(faces_dir, who, 3)], settings).case for who in ("Barack_Obama", "Jackie_Chan")]
    leads.report_lead(users["reporter"], {"place": "桥下", "urgency": ["minor"]}, [photo(faces_dir, "Yao_Ming", 2)], settings)
    process_all(settings)
    for case in cases:
        candidates.match_case(case.id, settings)
    pending = CandidateMatch.query.order_by(CandidateMatch.id).all()
    assert len(pending) >= 2
    review.decide(staff, pending[0].id, "confirm", "same person")

    templates = [vector(f) for f in Face.query.filter(Face.template_id.is_not(None))]
    assert len(templates) >= 7
    # The criterion fits this engine: every real template, once decrypted in memory, has unit norm.
    assert all(abs(float(np.linalg.norm(t)) - 1) < 1e-3 for t in templates)
    assert all(vectors.in_value(t.tobytes()) for t in templates)

    found, read = dump(db.engine)
    assert found == [], found[:5]
    assert read["face_template.ciphertext"] == len(Face.query.filter(Face.template_id.is_not(None)).all())
    assert "face.embedding" not in read
    assert read["candidate_match.evidence"] >= 2 and read["audit_log.detail"] > 0  # the dump read everything


# -- databases of the old schema upgraded by migration 0008

def _alembic(url: str, revision: str, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    (command.downgrade if down else command.upgrade)(cfg, revision)


@pytest.fixture(scope="module")
def old_embeddings(faces_dir) -> list[np.ndarray]:
    """Real SFace templates of five photos, as the old schema stored them (float32 bytes)."""
    from service.matching.engine import get_engine
    from service.matching.engine.image import decode_photo

    engine = get_engine("sface")
    out = []
    for who, n in (("Barack_Obama", 1), ("Yao_Ming", 1), ("Jackie_Chan", 2), ("Tony_Blair", 1), ("Colin_Powell", 1)):
        rgb = decode_photo((faces_dir / who / f"{n}.jpg").read_bytes()).rgb
        out.append(np.asarray(engine.analyze(rgb).faces[0].embedding, np.float32))
    return out


ENGINE = "sface-test"


def _old_world(engine: sa.Engine, embeddings: list[np.ndarray]) -> None:
    """Two arrivals (one a minor), a family and a police report, a street lead with the 'minor' flag, each with a
    face holding a plain embedding; and one face whose template was already erased."""
    owners = [("case", 1), ("case", 2), ("report", 1), ("report", 2), ("lead", 1)]
    with engine.begin() as conn:
        run = lambda sql, **kw: conn.execute(sa.text(sql), kw)  # noqa: E731
        run("INSERT INTO station (id, code, name) VALUES (1, 'TJHX', '河西站')")
        run("INSERT INTO user_account (id, username, password_hash, role) VALUES (1, 'r1', 'x', 'reporter')")
        for case_id, minor in ((1, False), (2, True)):
            run("INSERT INTO case_record (id, station_id, state, identity_status, gender, categories, is_minor, "
                "matching_status) VALUES (:i, 1, 'in_station', 'unknown', 'unknown', '[]', :m, 'done')", i=case_id, m=minor)
        run("INSERT INTO gallery_report (id, status, source, gender, matching_status, age_at_missing) "
            "VALUES (1, 'open', 'family', 'unknown', 'done', 30), (2, 'open', 'police', 'unknown', 'done', 40)")
        run("INSERT INTO street_lead (id, station_id, reporter_id, source, seen_at, urgency, status, face_check) "
            "VALUES (1, 1, 1, 'patrol', :t, '[\"minor\"]', 'open', 'pending')", t="2026-11-30 10:00:00")
        for i, ((kind, owner_id), embedding) in enumerate(zip(owners + [("case", 1)], embeddings + [None]), start=1):
            column = {"case": "case_id", "report": "report_id", "lead": "lead_id"}[kind]
            run(f"INSERT INTO photo (id, {column}, sha256, mime, size_bytes, width, height, status, attempts) "
                "VALUES (:i, :o, :s, 'image/jpeg', 1, 1, 1, 'processed', 1)", i=i, o=owner_id, s=f"{i:064x}")
            run("INSERT INTO face (id, photo_id, engine, face_index, owner_kind, owner_id, box, det_score, quality, "
                "quality_ok, embedding, selected) VALUES (:i, :i, :e, 0, :k, :o, '[0, 0, 1, 1]', 0.9, '{}', :q, :b, :q)",
                i=i, e=ENGINE, k=kind, o=owner_id, q=True, b=None if embedding is None else embedding.tobytes())


def _check_upgraded(engine: sa.Engine, key: bytes, embeddings: list[np.ndarray]) -> None:
    found, read = dump(engine)
    assert found == [], found[:5]
    assert "face.embedding" not in read and read["face_template.ciphertext"] == len(embeddings)
    ring = Keyring(key)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT f.id, f.engine, t.id, t.key_id, t.nonce, t.ciphertext FROM face f "
            "LEFT JOIN face_template t ON t.id = f.template_id ORDER BY f.id")).all()
        assert rows[-1][2] is None  # the erased face stays erased
        for (face_id, engine_name, tid, key_id, nonce, ciphertext), embedding in zip(rows, embeddings):
            assert np.array_equal(ring.open(tid, engine_name, key_id, bytes(nonce), bytes(ciphertext)), embedding)
        assert {c["name"] for c in sa.inspect(conn).get_columns("face_template")} == {
            "id", "engine", "key_id", "nonce", "ciphertext"}
        bases = dict(((k, o), b) for k, o, b in conn.execute(sa.text(
            "SELECT owner_kind, owner_id, basis FROM biometric_basis")).all())
        assert bases == {("case", 1): "statutory_duty", ("case", 2): "guardian_duty", ("report", 1): "family_consent",
                         ("report", 2): "statutory_duty", ("lead", 1): "guardian_duty"}
        enrolled = conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'biometric.enrol'")).scalar()
        assert enrolled == 5


def _check_downgrade(url: str, engine: sa.Engine, embeddings: list[np.ndarray]) -> None:
    _alembic(url, BEFORE, down=True)
    with engine.connect() as conn:
        plain = [r[0] for r in conn.execute(sa.text("SELECT embedding FROM face ORDER BY id")).all()]
    assert [np.frombuffer(bytes(p), np.float32).tolist() for p in plain[:-1]] == [e.tolist() for e in embeddings]
    assert plain[-1] is None


def test_migration_0008_on_sqlite_leaves_no_plain_template_in_the_database_file(tmp_path, monkeypatch, old_embeddings):
    path = tmp_path / "huijia.sqlite3"
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    _alembic(url, BEFORE)
    _old_world(engine, old_embeddings)
    engine.dispose()
    assert vectors.in_bytes(path.read_bytes()), "the old schema's file should show the plain embeddings"

    monkeypatch.delenv("HUIJIA_TEMPLATE_KEY", raising=False)
    monkeypatch.setenv("HUIJIA_INSTANCE_DIR", str(tmp_path))
    with pytest.raises(Exception, match="HUIJIA_TEMPLATE_KEY"):
        _alembic(url, "head")  # faces exist: no key, no migration (and nothing half-done)
    raw = secrets.token_urlsafe(32)
    (tmp_path / "template_key").write_text(raw + "\n")  # what `make run` writes
    _alembic(url, "head")
    engine.dispose()
    _check_upgraded(engine, parse_key("k", raw), old_embeddings)
    engine.dispose()
    leftovers = vectors.in_bytes(path.read_bytes())
    assert leftovers == [], leftovers[:5]
    assert not Path(f"{path}-journal").exists() and not Path(f"{path}-wal").exists()
    _check_downgrade(url, engine, old_embeddings)


@pytest.fixture()
def scratch_postgres():
    """A database of its own on the test server, dropped afterwards."""
    base = sa.engine.make_url(os.environ.get("HUIJIA_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    name = f"{os.environ.get('HUIJIA_TEST_DB_PREFIX', 'huijia_test')}_mig_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    yield url, engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _face_files(engine: sa.Engine) -> list[Path] | None:
    """The heap and TOAST files of `face` after a checkpoint, or None when this process cannot read them."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("CHECKPOINT"))
            data = Path(conn.execute(sa.text("SHOW data_directory")).scalar())
            rels = conn.execute(sa.text(
                "SELECT pg_relation_filepath(c.oid), pg_relation_filepath(NULLIF(c.reltoastrelid, 0)) "
                "FROM pg_class c WHERE c.relname = 'face'")).one()
    except sa.exc.DBAPIError:
        return None
    files = [p for rel in rels if rel for p in sorted((data / rel).parent.glob(Path(rel).name + "*"))
             if p.name == Path(rel).name or p.name.startswith(Path(rel).name + ".")]
    return files if files and all(os.access(p, os.R_OK) for p in files) else None


def test_migration_0008_on_postgres_seals_plain_templates_and_rewrites_the_table(scratch_postgres, monkeypatch,
                                                                                  old_embeddings):
    url, engine = scratch_postgres
    _alembic(url, BEFORE)
    _old_world(engine, old_embeddings)
    before = _face_files(engine)
    if before is not None:
        assert any(vectors.in_bytes(p.read_bytes()) for p in before), "the old heap should show the embeddings"
    raw = secrets.token_urlsafe(32)
    monkeypatch.setenv("HUIJIA_TEMPLATE_KEY", raw)
    _alembic(url, "head")
    _check_upgraded(engine, parse_key("k", raw), old_embeddings)
    after = _face_files(engine)
    print(f"PostgreSQL heap files of face read: before {before}, after {after}")
    if after is not None:  # the server's files are readable here (same machine, root): the rewrite is proven
        leftovers = [f for p in after for f in vectors.in_bytes(p.read_bytes(), str(p))]
        assert leftovers == [], leftovers[:5]
        assert set(after).isdisjoint(before or [])  # VACUUM FULL wrote new files
    _check_downgrade(url, engine, old_embeddings)
