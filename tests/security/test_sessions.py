"""Sessions, CSRF, tokens and headers, on the service as deployed (gunicorn, CSRF on, production config).

The suite's in-process app turns CSRF off for convenience; these tests start the real
`service:create_app()` under gunicorn, where it is on, and act as a browser would.
"""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from service.models import AuditEntry, Case
from tests.faults.servers import Stack, csrf_token, stack_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def web(test_env, tmp_path_factory):
    stack = Stack(stack_env(test_env), tmp_path_factory.mktemp("web"))
    stack.start_web()
    yield stack
    stack.stop()


def _logged_in(session: requests.Session, base: str) -> bool:
    resp = session.get(f"{base}/cases", allow_redirects=False, timeout=30)
    return resp.status_code == 200


def test_session_cookie_changes_at_login_and_the_old_one_is_worthless(web, users):
    browser = requests.Session()
    token = csrf_token(browser, f"{web.base}/login")  # the login form puts its CSRF token in a session
    before = browser.cookies.get("session")
    assert before, "the login page set no session cookie: nothing to fixate, but also no CSRF token"
    resp = browser.post(f"{web.base}/login", data={"username": "staff1", "password": "correct-horse-battery",
                                                    "csrf_token": token}, allow_redirects=False, timeout=30)
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    after = browser.cookies.get("session")
    assert after and after != before
    assert _logged_in(browser, web.base)

    planted = requests.Session()  # an attacker who planted or read the pre-login cookie gains nothing
    planted.cookies.set("session", before)
    assert not _logged_in(planted, web.base)


def test_logout_ends_the_session_and_every_copy_of_its_cookie(web, users):
    browser = web.login("staff1")
    copy = requests.Session()  # the cookie is signed, not stored: a copy must die with the logout too
    copy.cookies.set("session", browser.cookies.get("session"))
    assert _logged_in(browser, web.base) and _logged_in(copy, web.base)
    token = csrf_token(browser, f"{web.base}/cases")
    assert browser.post(f"{web.base}/logout", data={"csrf_token": token}, allow_redirects=False, timeout=30).status_code == 302
    assert not _logged_in(browser, web.base)
    assert not _logged_in(copy, web.base)


def test_password_change_ends_a_copied_session(web, users, db):
    """A copied session cookie stops working once the user's session version moves (password change)."""
    browser = web.login("staff1")
    copy = requests.Session()
    copy.cookies.set("session", browser.cookies.get("session"))
    assert _logged_in(copy, web.base)
    users["staff"].session_version += 1
    db.session.commit()
    assert not _logged_in(copy, web.base) and not _logged_in(browser, web.base)


@pytest.mark.parametrize("token_kind", ["missing", "wrong", "other_session"])
def test_post_without_a_valid_csrf_token_is_refused(web, users, db, token_kind):
    browser = web.login("staff1")
    form = {"name": "跨站伪造"}
    if token_kind == "wrong":
        form["csrf_token"] = "not-a-token"
    elif token_kind == "other_session":
        form["csrf_token"] = csrf_token(web.login("staff1"), f"{web.base}/intake")
    resp = browser.post(f"{web.base}/intake", data=form, allow_redirects=False, timeout=30)
    assert resp.status_code == 400, resp.text[:300]
    assert resp.headers["Content-Type"].startswith("text/html") and "Traceback" not in resp.text
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Case.id))) == 0


def test_every_page_post_checks_csrf(web, users, app):
    """Walk the URL map: every POST page route refuses a logged-in POST without the token (400)."""
    browser = web.login("admin1")
    unchecked = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        url = rule.rule
        for part, value in (("<int:", "1"), ("<", "x")):
            while part in url:
                start = url.index(part)
                url = url[:start] + value + url[url.index(">", start) + 1:]
        resp = browser.post(f"{web.base}{url}", data={}, allow_redirects=False, timeout=30)
        if resp.status_code != 400 or "CSRF" not in resp.text and "csrf" not in resp.text.lower() and rule.endpoint != "auth.login":
            unchecked.append(f"POST {rule.rule} → {resp.status_code}")
    assert unchecked == []
    assert _logged_in(browser, web.base)  # logout was refused too


def test_login_form_itself_needs_the_token(web, users):
    resp = requests.post(f"{web.base}/login", data={"username": "staff1", "password": "correct-horse-battery"},
                         allow_redirects=False, timeout=30)
    assert resp.status_code == 400


def test_api_with_a_token_needs_no_csrf_and_a_cookie_is_not_enough(web, users):
    auth = web.token("staff1")
    resp = requests.post(f"{web.base}/api/v1/cases", headers=auth, json={"name": "令牌"}, timeout=30)
    assert resp.status_code == 201
    browser = web.login("staff1")
    resp = browser.post(f"{web.base}/api/v1/cases", json={"name": "只有会话"}, timeout=30)
    assert resp.status_code == 401


def test_revoked_token_is_refused_and_other_tokens_keep_working(web, users, db):
    first, second = web.token("staff1"), web.token("staff1")
    assert requests.post(f"{web.base}/api/v1/auth/revoke", headers=first, timeout=30).json() == {"revoked": True}
    refused = requests.get(f"{web.base}/api/v1/cases", headers=first, timeout=30)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert requests.get(f"{web.base}/api/v1/cases", headers=second, timeout=30).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "token.revoke")) == 1


def test_deactivated_user_loses_tokens_and_sessions(web, users, db):
    auth = web.token("staff1")
    browser = web.login("staff1")
    users["staff"].active = False
    db.session.commit()
    assert requests.get(f"{web.base}/api/v1/cases", headers=auth, timeout=30).status_code == 401
    assert not _logged_in(browser, web.base)


@pytest.mark.parametrize("path, login_as", [
    ("/login", None), ("/cases", "staff1"), ("/intake", "staff1"), ("/nope", "staff1"),
    ("/api/v1/cases", "token"), ("/api/v1/nope", "token"), ("/api/v1/openapi.json", None), ("/healthz", None),
])
def test_security_headers_on_pages_and_api(web, users, path, login_as):
    if login_as == "token":
        resp = requests.get(f"{web.base}{path}", headers=web.token("staff1"), timeout=30)
    elif login_as:
        resp = web.login(login_as).get(f"{web.base}{path}", timeout=30)
    else:
        resp = requests.get(f"{web.base}{path}", timeout=30)
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    if path.startswith(("/api/", "/cases")):
        assert resp.headers["Cache-Control"] == "no-store"
