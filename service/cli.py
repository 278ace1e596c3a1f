"""flask commands: users, stations, first-run bootstrap, sweeping."""
from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from .domain.errors import DomainError
from .domain.roles import ROLES
from .extensions import db
from .models import Station, User
from .services.users import create_user

user_cli = AppGroup("user", help="Manage user accounts.")
station_cli = AppGroup("station", help="Manage relief stations.")


@user_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--station", "station_code", default=None, help="station code (required for staff and supervisors)")
@click.option("--email", default=None, help="where deadline alerts go (supervisors)")
def user_create(name, role, password, station_code, email):
    """Create a user: flask --app service user create NAME --role ROLE --password PW [--station CODE]."""
    try:
        user = create_user(name, role, password, station_code)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    if email:
        user.email = email.strip()[:120]
        db.session.commit()
    click.echo(f"created user {user.username} role={user.role} station={station_code or '-'}")


@station_cli.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--city", default=None)
@click.option("--phone", default=None, help="printed on public notices")
def station_create(code, name, city, phone):
    """Create a station: flask --app service station create CODE NAME [--city C] [--phone P]."""
    if db.session.scalar(select(Station).where(Station.code == code)):
        raise click.ClickException(f"station {code} exists")
    db.session.add(Station(code=code, name=name, city=city, phone=phone))
    db.session.commit()
    click.echo(f"created station {code}")


@click.command("bootstrap")
def bootstrap():
    """First run: a demo station, and an admin with a one-time password if there is no user."""
    if db.session.scalar(select(func.count()).select_from(Station)) == 0:
        db.session.add(Station(code="DEMO", name="示范救助管理站", city="天津"))
        db.session.commit()
        click.echo("created station DEMO (示范救助管理站)")
    if db.session.scalar(select(func.count()).select_from(User)) == 0:
        password = secrets.token_urlsafe(12)
        create_user("admin", "admin", password, "DEMO")
        click.echo("=" * 64)
        click.echo("First run: an admin account was created. This password is shown once:")
        click.echo(f"    username: admin    password: {password}")
        click.echo("Create staff accounts with: .venv/bin/flask --app service user create NAME --role staff --station DEMO")
        click.echo("=" * 64)


@click.command("sweep")
def sweep():
    """Re-queue photos left pending (what the beat job does every minute)."""
    from flask import current_app

    from .matching.photos import queue_photos
    from .matching.photos import stale_pending_photos

    ids = stale_pending_photos(current_app.config["HUIJIA"].pending_photo_sweep_seconds)
    click.echo(f"requeued={len(ids)} sent={queue_photos(ids) if ids else True}")


@click.command("reindex")
def reindex():
    """Rebuild the gallery index from the database in the search worker(s)."""
    from .tasking import REBUILD_INDEX, enqueue

    sent = enqueue(REBUILD_INDEX)
    click.echo("rebuild queued on the search queue" if sent else "broker unavailable: nothing queued")


def register_cli(app: Flask) -> None:
    app.cli.add_command(user_cli)
    app.cli.add_command(station_cli)
    app.cli.add_command(bootstrap)
    app.cli.add_command(sweep)
    from .demo import demo_cli
    app.cli.add_command(demo_cli)
    app.cli.add_command(reindex)
