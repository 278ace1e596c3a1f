"""The media disk is full: the upload is refused with 507 `storage_unavailable` and no half-written case.

The disk is a real, tiny tmpfs mounted for the test (root only; skipped with the reason otherwise),
filled so that the first photo of a two-photo arrival fits and the second does not.
"""
from __future__ import annotations

import dataclasses
import io
import os
import random
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import func, select

from service.models import AuditEntry, Case, Photo
from service.services.users import issue_token
from tests.conftest import unique_key
from tests.faults.servers import Stack, stack_env

pytestmark = pytest.mark.slow


def _noise_jpeg(seed: int, side: int = 160) -> bytes:
    """A valid JPEG that does not compress much (about 20 KB)."""
    rng = random.Random(seed)
    img = Image.frombytes("RGB", (side, side), bytes(rng.getrandbits(8) for _ in range(side * side * 3)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture()
def tiny_disk():
    """A 512 KB tmpfs; unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root: the disk-full test cannot run here")
    mount = Path(tempfile.mkdtemp(prefix="huijia-full-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): the disk-full test cannot run")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def _fill(mount: Path, leave: int) -> Path:
    """Fill the disk until about `leave` bytes remain free."""
    filler = mount / "filler.bin"
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    filler.write_bytes(b"\0" * max(0, free - leave))
    return filler


def _media_files(mount: Path) -> list[str]:
    return sorted(str(p.relative_to(mount)) for p in mount.rglob("*") if p.is_file() and p.name != "filler.bin")


def _counts(db) -> tuple[int, int]:
    db.session.expire_all()
    counts = db.session.scalar(select(func.count(Case.id))), db.session.scalar(select(func.count(Photo.id)))
    db.session.rollback()
    return counts


def test_full_media_disk_refuses_the_upload_and_keeps_nothing(test_env, tmp_path, db, users, tiny_disk):
    first, second = _noise_jpeg(1), _noise_jpeg(2)
    filler = _fill(tiny_disk, leave=len(first) + len(second) // 2)
    stack = Stack(stack_env(test_env, HUIJIA_MEDIA_DIR=tiny_disk), tmp_path)
    token, _ = issue_token(users["staff"], 1)
    auth = {"Authorization": f"Bearer {token}", "Idempotency-Key": unique_key()}
    files = [("photos", ("a.jpg", first, "image/jpeg")), ("photos", ("b.jpg", second, "image/jpeg"))]
    try:
        stack.start_web()
        resp = requests.post(f"{stack.base}/api/v1/cases", headers=auth, data={"name": "满盘"}, files=files, timeout=30)
        assert resp.status_code == 507, resp.text
        error = resp.json()["error"]
        assert error["code"] == "storage_unavailable" and error["field"] == "photos"
        assert "nothing was saved" in error["message"]
        assert _counts(db) == (0, 0), "a half-written case remains"
        assert _media_files(tiny_disk) == [], "the first photo's file (or a temp file) was left behind"

        filler.unlink()  # the operator frees space: the same request (same key) now saves the case
        again = requests.post(f"{stack.base}/api/v1/cases", headers=auth, data={"name": "满盘"}, files=files, timeout=30)
        assert again.status_code == 201, again.text
        assert _counts(db) == (1, 2)
    finally:
        stack.stop()


def test_full_media_disk_on_the_intake_page(app, db, users, tiny_disk):
    """The clerk's form: the page says why, keeps what was typed, and nothing is saved."""
    from tests.conftest import login

    client = app.test_client()
    login(client, "staff1")
    photo = _noise_jpeg(3)
    _fill(tiny_disk, leave=len(photo) // 2)
    old = app.config["HUIJIA"]
    app.config["HUIJIA"] = dataclasses.replace(old, media_dir=tiny_disk)
    try:
        resp = client.post("/intake", data={"name": "满盘页面", "idempotency_key": unique_key(),
                                             "photos": (io.BytesIO(photo), "p.jpg")},
                           content_type="multipart/form-data")
        # The same session then serves another request: nothing of the refused form may be flushed by it.
        listing = client.get("/cases")
    finally:
        app.config["HUIJIA"] = old
    assert resp.status_code == 507
    page = resp.get_data(as_text=True)
    assert "满盘页面" in page and "nothing was saved" in page
    assert listing.status_code == 200
    assert _counts(db) == (0, 0)
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "case.create")) == 0
    assert _media_files(tiny_disk) == []


def test_full_media_disk_when_adding_photos_to_a_case(app, db, users, settings, tiny_disk):
    """More photos for an existing case: refused with the reason; the case keeps exactly what it had."""
    from service.services.intake import Upload, register_arrival
    from tests.conftest import login

    local = dataclasses.replace(settings, media_dir=tiny_disk)
    case = register_arrival(users["staff"], {"name": "加照片"}, [Upload("a.jpg", _noise_jpeg(4))], local).case
    client = app.test_client()
    login(client, "staff1")
    fits, too_big = _noise_jpeg(5), _noise_jpeg(6)
    _fill(tiny_disk, leave=len(fits) + len(too_big) // 2)
    before = _media_files(tiny_disk)
    app.config["HUIJIA"] = local
    try:
        resp = client.post(f"/cases/{case.id}/photos", content_type="multipart/form-data",
                           data={"photos": [(io.BytesIO(fits), "b.jpg"), (io.BytesIO(too_big), "c.jpg")]})
        page = client.get(f"/cases/{case.id}")
    finally:
        app.config["HUIJIA"] = settings
    assert resp.status_code == 303
    assert "nothing was saved" in page.get_data(as_text=True)
    assert _counts(db) == (1, 1)
    assert _media_files(tiny_disk) == before
