"""Fixtures: a real PostgreSQL database built by the migrations, real Redis, users by role.

HUIJIA_TEST_DATABASE_URL / HUIJIA_TEST_REDIS_URL name the servers (scripts/test.sh sets them,
starting throwaway servers when none answer). Every test starts from empty tables.
"""
from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from service.config import PROJECT_ROOT

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
PASSWORD = "correct-horse-battery"


def _admin_url() -> sa.engine.URL:
    return sa.engine.make_url(os.environ.get("HUIJIA_TEST_DATABASE_URL", DEFAULT_DB))


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def database_url() -> str:
    """A fresh database for this test run (per xdist worker), migrated to head."""
    base = _admin_url()
    # HUIJIA_TEST_DB_PREFIX keeps two checkouts' runs on one server apart.
    name = f"{os.environ.get('HUIJIA_TEST_DB_PREFIX', 'huijia_test')}_{_worker_suffix()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable at {base.render_as_string(hide_password=True)}: {exc}", 3)
    finally:
        admin.dispose()
    url = base.set(database=name).render_as_string(hide_password=False)
    _upgrade(url)
    return url


def _upgrade(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, "head")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis; under xdist each worker gets its own db (base, base-1, ...): worker subprocesses started
    by two test processes on one db would take each other's messages and run them against the wrong database."""
    url = os.environ.get("HUIJIA_TEST_REDIS_URL", DEFAULT_REDIS)
    worker = _worker_suffix()
    if not worker.startswith("gw"):
        return url
    base, _, db = url.rpartition("/")
    if not db.isdigit():
        base, db = url.rstrip("/"), "0"
    return f"{base}/{(int(db) - int(worker[2:])) % 16}"


@pytest.fixture(scope="session")
def test_env(database_url, redis_url, tmp_path_factory) -> dict:
    """The HUIJIA_* environment of this test run (also given to worker subprocesses)."""
    instance = tmp_path_factory.mktemp("instance")
    return {
        "HUIJIA_DATABASE_URL": database_url,
        "HUIJIA_BROKER_URL": redis_url,
        "HUIJIA_INSTANCE_DIR": str(instance),
        "HUIJIA_MEDIA_DIR": str(instance / "media"),
        "HUIJIA_SECRET_KEY": secrets.token_urlsafe(32),
        "HUIJIA_TEMPLATE_KEY": secrets.token_urlsafe(32),
        "HUIJIA_LOGIN_RATE_LIMIT": "1000 per minute",
        "HUIJIA_LEAD_RATE_LIMIT": "1000 per minute",
        "HUIJIA_PENDING_PHOTO_SWEEP_SECONDS": "1",
    }


class IsolatedClient(FlaskClient):
    """Test requests run inside the test's app context (for db access), so Flask reuses it and
    its `g`; in production each request has its own. Clear what extensions cache there."""

    REQUEST_SCOPED = ("_login_user", "api_user", "_flask_babel")

    def open(self, *args, **kwargs):
        from flask import g, has_app_context

        if has_app_context():
            for key in self.REQUEST_SCOPED:
                g.pop(key, None)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(test_env):
    from service import create_app
    from service.config import Settings

    old = {k: os.environ.get(k) for k in test_env}
    os.environ.update(test_env)
    try:
        settings = Settings.from_env()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    application = create_app(settings, TESTING=True, WTF_CSRF_ENABLED=False)
    application.test_client_class = IsolatedClient
    return application


@pytest.fixture(scope="session")
def settings(app):
    return app.config["HUIJIA"]


def _truncate(app) -> None:
    from service.extensions import db

    with app.app_context():
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.session.commit()
        db.session.remove()


@pytest.fixture()
def db(app):
    """Empty tables before the test; an app context for the services."""
    from service.extensions import db as _db

    _truncate(app)
    with app.app_context():
        yield _db
        _db.session.remove()


@pytest.fixture()
def stations(db):
    from service.models import Station

    main = Station(code="TJHX", name="天津市河西区救助管理站", city="天津")
    other = Station(code="TJNK", name="天津市南开区救助管理站", city="天津")
    db.session.add_all([main, other])
    db.session.commit()
    return {"main": main, "other": other}


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Hashed once: argon2 is slow on purpose, and every test needs users."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(PASSWORD)


USERS = {
    "staff": ("staff1", "staff", "main"),
    "supervisor": ("super1", "supervisor", "main"),
    "admin": ("admin1", "admin", None),
    "other_staff": ("staff2", "staff", "other"),
    "reporter": ("reporter1", "reporter", "main"),
    "other_reporter": ("reporter2", "reporter", "main"),
}


@pytest.fixture()
def users(db, stations, password_hash):
    from service.models import User

    made = {
        key: User(username=name, role=role, password_hash=password_hash, station=stations[st] if st else None,
                  reporter_source="patrol" if role == "reporter" else None)
        for key, (name, role, st) in USERS.items()
    }
    db.session.add_all(made.values())
    db.session.commit()
    return made


@pytest.fixture()
def client(app, db):
    return app.test_client()


def login(client, username: str) -> None:
    resp = client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 302, resp.data[:300]


@pytest.fixture()
def staff_client(app, users):
    c = app.test_client()
    login(c, "staff1")
    return c


class Api:
    """A tiny API client with a bearer token for one user."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __getattr__(self, method):
        def call(path, **kw):
            headers = {**self.headers, **kw.pop("headers", {})}
            return getattr(self.client, method)(path, headers=headers, **kw)

        return call


@pytest.fixture()
def api(app, users):
    """api['staff'], api['supervisor'], api['admin'], api['other_staff'], api[None] (anonymous)."""
    from service.services.users import issue_token

    client = app.test_client()
    clients = {None: Api(client, None)}
    for role, user in users.items():
        token, _row = issue_token(user, 1)
        clients[role] = Api(client, token)
    return clients


FACES_DIR = Path(os.environ.get("HUIJIA_FACES", PROJECT_ROOT.parent / "shared" / "faces"))


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES_DIR / "manifest.csv").exists():
        pytest.skip(f"face photographs not found at {FACES_DIR} (set HUIJIA_FACES)")
    return FACES_DIR


@pytest.fixture()
def face_photo(faces_dir) -> bytes:
    return (faces_dir / "Alex_Lacamoire" / "1.jpg").read_bytes()


def unique_key() -> str:
    return uuid.uuid4().hex
