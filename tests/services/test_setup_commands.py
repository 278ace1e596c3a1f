"""The embedded default: migrations on SQLite, the CLI that make run and operators use."""
from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from tests.support.procs import child_env

FLASK = [sys.executable, "-m", "flask", "--app", "service"]


def _run(args, env):
    return subprocess.run(FLASK + args, env=env, capture_output=True, text=True, timeout=120)


def test_sqlite_embedded_default_migrates_and_bootstraps(tmp_path, test_env):
    env = child_env(test_env)
    for key in ("HUIJIA_DATABASE_URL", "HUIJIA_BROKER_URL", "HUIJIA_MEDIA_DIR"):
        env.pop(key)  # the embedded default: SQLite file and filesystem broker under the instance dir
    env["HUIJIA_INSTANCE_DIR"] = str(tmp_path)
    assert _run(["db", "upgrade"], env).returncode == 0
    first = _run(["bootstrap"], env)
    assert first.returncode == 0, first.stderr
    assert "password:" in first.stdout and "DEMO" in first.stdout
    again = _run(["bootstrap"], env)
    assert "password:" not in again.stdout  # shown once, only when no user exists

    made = _run(["user", "create", "clerk1", "--role", "staff", "--password", "a-long-password", "--station", "DEMO"], env)
    assert made.returncode == 0, made.stderr
    dup = _run(["user", "create", "clerk1", "--role", "staff", "--password", "a-long-password", "--station", "DEMO"], env)
    assert dup.returncode != 0 and "exists" in dup.stderr
    nostation = _run(["user", "create", "clerk2", "--role", "staff", "--password", "a-long-password"], env)
    assert nostation.returncode != 0 and "station" in nostation.stderr

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'huijia.sqlite3'}")
    with engine.connect() as conn:
        roles = dict(conn.execute(sa.text("SELECT username, role FROM user_account")).all())
        tables = set(sa.inspect(conn).get_table_names())
    assert roles == {"admin": "admin", "clerk1": "staff"}
    assert {"case_record", "photo", "audit_log", "search_channel"} <= tables


def test_postgres_schema_matches_models(app, db):
    """The migrations build exactly the tables the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_missing_secret_stops_boot(tmp_path):
    env = child_env({"HUIJIA_INSTANCE_DIR": str(tmp_path)})
    env.pop("HUIJIA_SECRET_KEY", None)
    result = _run(["routes"], env)
    assert result.returncode != 0 and "HUIJIA_SECRET_KEY" in result.stderr


def test_cli_in_another_shell_uses_the_key_make_run_keeps(tmp_path, test_env):
    """`make run` writes instance/secret_key; the README's CLI lines, typed in a new shell, act on that instance."""
    env = child_env(test_env)
    for key in ("HUIJIA_DATABASE_URL", "HUIJIA_BROKER_URL", "HUIJIA_MEDIA_DIR", "HUIJIA_SECRET_KEY", "HUIJIA_TEMPLATE_KEY"):
        env.pop(key, None)
    env["HUIJIA_INSTANCE_DIR"] = str(tmp_path)
    (tmp_path / "secret_key").write_text("k" * 64 + "\n")
    (tmp_path / "template_key").write_text("t" * 43 + "\n")
    assert _run(["db", "upgrade"], env).returncode == 0
    assert _run(["bootstrap"], env).returncode == 0
    made = _run(["user", "create", "rep1", "--role", "reporter", "--password", "a-long-password", "--station", "DEMO"], env)
    assert made.returncode == 0, made.stderr
    assert "role=reporter" in made.stdout
