"""Scratch PostgreSQL databases for the benches: dropped if left over, created empty, migrated, dropped after.

`admin_url` is a database URL on a server where the bench may CREATE and DROP databases
(HUIJIA_BENCH_ADMIN_URL); each bench names its own database so two benches never share one.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _run(admin_url: str, *statements: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        admin.dispose()


def create_database(admin_url: str, name: str, migrate: bool = True) -> str:
    """A fresh database `name` (migrated to head by Alembic unless `migrate` is False); returns its URL."""
    _run(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    if migrate:
        upgrade(url)
    return url


def drop_database(admin_url: str, name: str) -> None:
    _run(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def upgrade(url: str) -> None:
    """The migrations, applied as tests/conftest.py applies them."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, "head")


def in_process_app(url: str, instance_dir: Path):
    """The Flask app over `url` in this process: fresh secret and template keys, an in-memory broker."""
    import os
    import secrets

    os.environ.update({"HUIJIA_DATABASE_URL": url, "HUIJIA_SECRET_KEY": secrets.token_urlsafe(16),
                       "HUIJIA_TEMPLATE_KEY": secrets.token_urlsafe(32),
                       "HUIJIA_BROKER_URL": "memory://", "HUIJIA_INSTANCE_DIR": str(instance_dir)})
    from service import create_app

    return create_app()
