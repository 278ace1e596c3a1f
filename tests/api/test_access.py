"""Every route needs login and names its role; login is throttled; tokens expire."""
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

PUBLIC = {"/healthz", "/readyz", "/api/v1/auth/token", "/api/v1/openapi.json", "/login", "/static/<path:filename>", "/lang/<code>"}


def test_every_route_declares_a_role(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC or rule.endpoint in ("auth.logout",):
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "required_role", None) not in ("reporter", "staff", "supervisor", "admin"):
            missing.append(rule.rule)
    assert missing == []


def test_every_protected_route_refuses_anonymous(app, users):
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC:
            continue
        url = re.sub(r"<int:[^>]+>", "1", rule.rule)
        url = re.sub(r"<(string:)?[^>]+>", "a" * 64, url)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            resp = client.open(url, method=method)
            assert resp.status_code in (302, 401), (method, url, resp.status_code)


def test_login_is_rate_limited(app, users):
    from service.extensions import limiter

    client = app.test_client()
    limiter.reset()
    old = app.config["HUIJIA"]  # frozen settings; the limit is read from them per request
    app.config["HUIJIA"] = dataclasses.replace(old, login_rate_limit="3 per minute")
    try:
        codes = [client.post("/login", data={"username": "staff1", "password": "wrong-wrong"}).status_code for _ in range(5)]
        api_codes = [client.post("/api/v1/auth/token", json={"username": "x", "password": "y"}).status_code for _ in range(5)]
    finally:
        app.config["HUIJIA"] = old
        limiter.reset()
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    assert api_codes[-1] == 429


def test_expired_token_is_refused(api, users, db):
    from service.models import ApiToken
    from service.models.types import utcnow

    for row in db.session.query(ApiToken).all():
        row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert api["staff"].get("/api/v1/cases").status_code == 401


def test_password_change_ends_sessions(app, users, db):
    from tests.conftest import login

    client = app.test_client()
    login(client, "staff1")
    assert client.get("/cases").status_code == 200
    users["staff"].session_version += 1
    db.session.commit()
    assert client.get("/cases").status_code == 302


def test_every_api_route_is_in_the_openapi_spec(app):
    from service.api.openapi import spec

    documented = set(spec()["paths"])
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert routes - documented - {"/api/v1/openapi.json"} == set()
