"""Route × role matrix, generated from the app's URL map: a new route without a role check fails here.

For every rule, every method and every identity (anonymous, reporter, staff, supervisor, admin), the least
role is read from the view's `required_role` (set by `role_required` / `api_role`). Anonymous must
be refused (401 envelope for the API, a redirect to the login page for pages), a role below the
least one must get 403, and a role at or above it must get past the check (whatever the handler
then answers: 404 for the placeholder ids, 400/422 for the empty bodies, never 401/403 or a 500).
An API route must also refuse a logged-in browser session without a token (the API is exempt from
CSRF, so it must never accept the session cookie). Every answer carries the security headers.
"""
from __future__ import annotations

import re

import pytest

from service.domain.roles import ROLES
from tests.conftest import login

RANK = {role: rank for rank, role in enumerate(ROLES)}  # the ladder, lowest first (anonymous is checked apart)
# Reachable without logging in, each for a reason; anything else public fails the matrix.
PUBLIC = {
    "static": "CSS and JS of the pages",
    "healthz": "load-balancer liveness (API.md)",
    "readyz": "operators' monitoring: background work and stuck photos, no personal data (README)",
    "api.token": "how an API client logs in (API.md)",
    "api.openapi": "the API description (no data)",
    "auth.login": "the login form",
    "auth.set_language": "the language switch on the login page",
}
LOGIN_ONLY = {"auth.logout": "any logged-in user may log out"}
# Answers 503 by design, not by failure: monitoring reads the code (here: no beat runs in the test process).
DEGRADED_IS_503 = {"readyz": "'something in the background is wrong' (README: Is the background work running?)"}
PLACEHOLDERS = {"channel": "portal", "kind": "extension_approved", "fmt": "png", "code": "en"}
USERNAMES = {"reporter": "reporter1", "staff": "staff1", "supervisor": "super1", "admin": "admin1"}


def _url(rule) -> str:
    def fill(match):
        converter, name = match[1] or "string", match[2]
        if converter == "int":
            return "987654"  # no such row: an allowed role gets past the check and then a 404
        if converter == "path":
            return "app.css"
        return PLACEHOLDERS.get(name, "0" * 64)

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", fill, rule.rule)


ENDS_SESSION = ("auth.logout", "api.revoke")  # walked last: they end the session or token they are called with


def _routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint in ENDS_SESSION, r.rule, r.endpoint)):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


@pytest.fixture()
def clients(app, users, monkeypatch):
    """Per identity: a browser session (pages) and a bearer token (API). Messages stay off the shared broker."""
    from service.extensions import celery
    from service.services.users import issue_token

    monkeypatch.setattr(celery, "send_task", lambda *a, **k: None)  # side effects of allowed POSTs stay local
    out = {None: (app.test_client(), {})}
    for role in ROLES:
        browser = app.test_client()
        login(browser, USERNAMES[role])
        token, _ = issue_token(users[role], 1)
        out[role] = (browser, {"Authorization": f"Bearer {token}"})
    return out


def _headers_ok(resp) -> str | None:
    csp = resp.headers.get("Content-Security-Policy", "")
    if "frame-ancestors 'none'" not in csp or "default-src 'self'" not in csp:
        return f"CSP {csp!r}"
    if resp.headers.get("X-Content-Type-Options") != "nosniff":
        return "no nosniff"
    return None


def test_every_route_declares_its_least_role_or_is_listed_public(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        role = getattr(app.view_functions[rule.endpoint], "required_role", None)
        if role is None and rule.endpoint not in PUBLIC and rule.endpoint not in LOGIN_ONLY:
            undeclared.append(f"{rule.rule} ({rule.endpoint})")
        assert role in (None, *ROLES), f"{rule.rule}: unknown role {role!r}"
    assert undeclared == [], "routes without a role check: decorate with role_required/api_role"


def test_route_role_matrix(app, clients):
    failures, cells = [], 0
    for rule, method in _routes(app):
        view = app.view_functions[rule.endpoint]
        least = getattr(view, "required_role", None)
        url, api = _url(rule), rule.rule.startswith("/api/")
        for identity in (None, *ROLES):
            browser, token = clients[identity]
            if api:
                resp = browser.open(url, method=method, headers=token)
            else:
                resp = browser.open(url, method=method)
            cells += 1
            where = f"{method} {rule.rule} as {identity or 'anonymous'} → {resp.status_code}"
            if bad := _headers_ok(resp):
                failures.append(f"{where}: {bad}")
            if resp.status_code >= 500 and not (resp.status_code == 503 and rule.endpoint in DEGRADED_IS_503):
                failures.append(f"{where}: server error")
                continue
            if rule.endpoint in PUBLIC:
                continue
            if identity is None:
                if api and not (resp.status_code == 401 and resp.is_json and resp.json["error"]["code"] == "unauthorized"):
                    failures.append(f"{where}: anonymous must get the 401 envelope")
                if not api and not (resp.status_code == 302 and "/login" in resp.headers.get("Location", "")):
                    failures.append(f"{where}: anonymous must be sent to the login page")
                continue
            if least is None:  # LOGIN_ONLY
                if resp.status_code in (401, 403):
                    failures.append(f"{where}: a logged-in user must pass")
                continue
            if RANK[identity] < RANK[least]:
                if resp.status_code != 403:
                    failures.append(f"{where}: below {least}, must be 403")
                elif api and resp.json["error"]["code"] != "forbidden":
                    failures.append(f"{where}: 403 without the envelope")
            else:
                login_redirect = resp.status_code == 302 and "/login" in resp.headers.get("Location", "")
                if resp.status_code in (401, 403) or login_redirect:
                    failures.append(f"{where}: {identity} ≥ {least} must get past the check")
    assert failures == [], "\n".join(failures)
    assert cells > 300  # the whole map was walked


def test_api_never_accepts_a_browser_session(app, clients):
    """The API is exempt from CSRF: a session cookie alone must never authenticate it."""
    browser, _ = clients["admin"]
    assert browser.get("/cases").status_code == 200  # the session is valid for pages
    accepted = []
    for rule, method in _routes(app):
        if not rule.rule.startswith("/api/") or rule.endpoint in PUBLIC:
            continue
        resp = browser.open(_url(rule), method=method)
        if resp.status_code != 401:
            accepted.append(f"{method} {rule.rule} → {resp.status_code}")
    assert accepted == []
