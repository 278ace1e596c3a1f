"""The same form submitted twice at once (double click, a retry after a timeout): one case.

Two threads send the same registration with the same key at the same instant to a real gunicorn
(threads, so both requests run concurrently inside one process as in production), over the API
(`Idempotency-Key` header) and through the intake page (its hidden `idempotency_key`).
"""
from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import func, select

from service.models import Case, Photo
from service.services.users import issue_token
from tests.conftest import unique_key
from tests.faults.servers import Stack, csrf_token, small_photos, stack_env

pytestmark = pytest.mark.slow

ROUNDS = 8


def _twice(send) -> list:
    """Run send() in two threads released together; return both results."""
    gate = threading.Barrier(2)
    results: list = [None, None]

    def run(i):
        gate.wait()
        results[i] = send()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _cases_with(db, key: str) -> list[int]:
    db.session.expire_all()
    ids = list(db.session.scalars(select(Case.id).where(Case.idempotency_key == key)))
    db.session.rollback()
    return ids


def test_same_form_twice_at_once_makes_one_case(test_env, tmp_path, db, users, faces_dir):
    stack = Stack(stack_env(test_env), tmp_path)
    photos = small_photos(faces_dir, ROUNDS * 2)
    token, _ = issue_token(users["staff"], 1)
    try:
        stack.start_web(workers=1, threads=8)

        for round_no in range(ROUNDS):  # the API
            key = unique_key()
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}

            def send(data=photos[round_no]):
                return requests.post(f"{stack.base}/api/v1/cases", headers=headers, timeout=60, data={"name": "双击"},
                                     files=[("photos", ("p.jpg", data, "image/jpeg"))])

            answers = _twice(send)
            assert sorted(r.status_code for r in answers) == [200, 201], [r.text[:200] for r in answers]
            assert answers[0].json()["id"] == answers[1].json()["id"]
            assert len(_cases_with(db, key)) == 1

        browser = stack.login("staff1")
        for round_no in range(ROUNDS):  # the intake page (one session, one CSRF token, as a double click)
            key = unique_key()
            form = {"name": "双击页面", "idempotency_key": key, "csrf_token": csrf_token(browser, f"{stack.base}/intake")}

            def post(data=photos[ROUNDS + round_no]):
                return browser.post(f"{stack.base}/intake", data=form, allow_redirects=False, timeout=60,
                                    files=[("photos", ("p.jpg", data, "image/jpeg"))])

            answers = _twice(post)
            assert [r.status_code for r in answers] == [302, 302], [r.text[:300] for r in answers]
            assert answers[0].headers["Location"] == answers[1].headers["Location"]
            assert len(_cases_with(db, key)) == 1
    finally:
        stack.stop()
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Case.id))) == 2 * ROUNDS
    assert db.session.scalar(select(func.count(Photo.id))) == 2 * ROUNDS
