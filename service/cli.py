"""flask commands: users, stations, first-run bootstrap, sweeping, template keys, privacy alerts."""
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
    """Re-send pending work now (what beat runs every HUIJIA_SWEEP_INTERVAL_SECONDS)."""
    from flask import current_app

    from .services import sweeper

    click.echo(f"requeued={sweeper.sweep(current_app.config['HUIJIA'])}")


@click.command("liveness")
@click.option("--require", "required", multiple=True, type=click.Choice(["db", "broker", "beat", "sweep", "all"]),
              help="exit 1 unless this signal is fine (repeatable); default: all")
def liveness_command(required):
    """Print the liveness signals (as /healthz); exit 1 when a required one is not fine (container health checks)."""
    import json

    from flask import current_app

    from .services import liveness

    body, _db_ok = liveness.report(current_app.config["HUIJIA"])
    click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    checks = {
        "db": body["db"] == "ok",
        "broker": body.get("broker") == "ok",
        "beat": body.get("beat", {}).get("state") == "ok",
        "sweep": body.get("sweep", {}).get("state") == "ok",
        "all": body["status"] == "ok",
    }
    failed = [name for name in (required or ("all",)) if not checks[name]]
    if failed:
        raise SystemExit(f"not fine: {', '.join(failed)}")


@click.command("reindex")
def reindex():
    """Rebuild the gallery index from the database in the search worker(s)."""
    from .tasking import REBUILD_INDEX, enqueue

    sent = enqueue(REBUILD_INDEX)
    click.echo("rebuild queued on the search queue" if sent else "broker unavailable: nothing queued")


templates_cli = AppGroup("templates", help="Encrypted face templates: key status and key rotation.")


@templates_cli.command("status")
def templates_status():
    """Templates per key id: the current key, retired keys still held, keys nobody gave."""
    from flask import current_app

    from .matching.templates import key_counts, keyring
    from .services.privacy import enrolled_people

    ring = keyring()
    click.echo(f"current key id: {ring.current_id}")
    for key_id, count in sorted(key_counts().items()):
        state = "current" if key_id == ring.current_id else ("retired, held" if key_id in ring.key_ids else "NO KEY")
        click.echo(f"  {key_id}  {count:>9}  {state}")
    settings = current_app.config["HUIJIA"]
    click.echo(f"enrolled people: {enrolled_people()} (filing threshold {settings.enrolment_alert_threshold})")


@templates_cli.command("new-key")
def templates_new_key():
    """Print a fresh template key (for HUIJIA_TEMPLATE_KEY)."""
    click.echo(secrets.token_urlsafe(32))


@templates_cli.command("rotate-key")
@click.option("--old-key", "old_keys", multiple=True, help="a previous key (also read from HUIJIA_TEMPLATE_OLD_KEYS)")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--max-batches", default=None, type=click.IntRange(1), help="stop after this many batches (resume later)")
def templates_rotate_key(old_keys, batch_size, max_batches):
    """Re-encrypt every template under HUIJIA_TEMPLATE_KEY, a committed batch at a time; run again to resume.

    Steps: set HUIJIA_TEMPLATE_KEY to the new key and HUIJIA_TEMPLATE_OLD_KEYS to the old one, restart the
    services (both keys are read meanwhile), run this, then remove the old key when `templates status`
    shows no template under it.
    """
    from flask import current_app

    from .config import ConfigError, parse_key
    from .matching.sealed import Keyring, TemplateRefused
    from .matching.templates import rotate

    settings = current_app.config["HUIJIA"]
    try:
        extra = [parse_key("--old-key", k) for k in old_keys]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    ring = Keyring(settings.template_key, [*settings.template_old_keys, *extra])
    try:
        result = rotate(ring, batch_size, max_batches,
                        progress=lambda p: click.echo(f"batch {p['batches']}: re-encrypted {p['reencrypted']}"))
    except TemplateRefused as exc:
        raise click.ClickException(exc.reason) from exc
    click.echo(f"key id {result['key_id']}: re-encrypted {result['reencrypted']}, refused {result['refused']}, "
               f"still under other keys {result['remaining']}")
    if result["refused"]:
        raise click.ClickException(f"{result['refused']} template(s) refused (tampered or damaged): see the log")


privacy_cli = AppGroup("privacy", help="Face-data records and alerts.")


@privacy_cli.command("watch")
def privacy_watch():
    """Raise privacy alerts now (what the beat job does every 5 minutes)."""
    from flask import current_app

    from .services.privacy import watch

    click.echo(f"raised={watch(current_app.config['HUIJIA'])['raised']}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(user_cli)
    app.cli.add_command(station_cli)
    app.cli.add_command(bootstrap)
    app.cli.add_command(sweep)
    app.cli.add_command(liveness_command)
    from .demo import demo_cli
    app.cli.add_command(demo_cli)
    app.cli.add_command(reindex)
    app.cli.add_command(templates_cli)
    app.cli.add_command(privacy_cli)
