"""Huijia (回家): identify stranded people and bring them home."""
from __future__ import annotations

import logging

from flask import Flask, request, session
from werkzeug.routing import IntegerConverter

from .config import PROJECT_ROOT, Settings
from .extensions import babel, celery, csrf, db, limiter, login_manager, migrate

LOCALES = ("zh_CN", "en")


def create_app(settings: Settings | None = None, **overrides) -> Flask:
    """Wire config, extensions, blueprints and error handlers. No I/O here."""
    settings = settings or Settings.from_env()
    app = Flask(
        __name__,
        static_folder=str(PROJECT_ROOT / "static"),
        template_folder="templates",
        instance_path=str(settings.instance_dir),
    )
    app.config.update(settings.flask_config())
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(PROJECT_ROOT / "service" / "translations")
    app.config.update(overrides)
    # Before any rule is added: ids in URLs must fit the database's integer columns.
    app.url_map.converters["int"] = DatabaseInt

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=lambda: _locale_for_request(settings))
    limiter.init_app(app)
    from .tasking import init_celery

    init_celery(app, celery)

    from . import models  # noqa: F401  (registers the tables)
    from .matching import templates

    templates.init_app(app)  # the face-template keyring: a bad key or a missing `cryptography` stops boot
    from .api import api_bp
    from .web import register_web

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    from .api.routes import healthz, readyz

    app.add_url_rule("/healthz", view_func=healthz)
    app.add_url_rule("/readyz", view_func=readyz)
    register_web(app)

    from .cli import register_cli

    register_cli(app)
    _security_headers(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return app


class DatabaseInt(IntegerConverter):
    """`<int:...>` beyond PostgreSQL's integer names no row: it becomes 0 (never an id), so the view answers
    404 instead of the database failing (a 500). Not a converter error: that would make Werkzeug answer 405."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        return number if number <= 2**31 - 1 else 0


def _locale_for_request(settings: Settings) -> str:
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    return settings.default_locale if settings.default_locale in LOCALES else "zh_CN"


def _security_headers(app: Flask) -> None:
    from urllib.parse import urlsplit

    tiles = app.config["HUIJIA"].map_tile_url if "HUIJIA" in app.config else None
    # Map tiles are the one image source beyond our own: the configured tile server's origin.
    tile_origin = ""
    if tiles:
        parts = urlsplit(tiles.replace("{s}", "*"))
        tile_origin = f" {parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    policy = (f"default-src 'self'; img-src 'self' data: blob:{tile_origin}; style-src 'self'; script-src 'self'; "
              "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

    @app.after_request
    def add_headers(response):
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.path.startswith(("/api/", "/media/", "/cases")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
