"""Resumable uploads for phones on a bad connection: a photo sent in chunks, continued where it broke off.

The phone names the upload with the report's idempotency key, asks how much the station already has
(`offset`) and sends the rest. The parts are plain files under the instance folder, one per reporter and key;
the lead takes the finished file when it is committed, and the sweeper deletes parts left behind. They live
beside the photos (HUIJIA_MEDIA_DIR), the one folder every web and worker process shares.
"""
from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path

from ..domain.errors import Conflict, InvalidValue
from ..models import User
from .intake import Upload

KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
STALE_SECONDS = 24 * 3600
MAX_OPEN_PARTS = 5  # per reporter: a phone has a report or two in its outbox, not a disk's worth


def _folder(settings) -> Path:
    folder = Path(settings.media_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(actor: User, key: str, settings) -> Path:
    if not isinstance(key, str) or not KEY.match(key):
        raise InvalidValue("the upload key must be 8 to 64 letters, digits, - or _", "upload_key")
    return _folder(settings) / f"{actor.id}-{key}.part"  # per reporter: one cannot write into another's


def offset(actor: User, key: str, settings) -> int:
    path = _path(actor, key, settings)
    return path.stat().st_size if path.exists() else 0


def append(actor: User, key: str, start: int, chunk: bytes, settings) -> int:
    """Add `chunk` at `start`; a chunk that does not start where the part ends is refused with the offset."""
    path = _path(actor, key, settings)
    if not path.exists() and len(list(_folder(settings).glob(f"{actor.id}-*.part"))) >= MAX_OPEN_PARTS:
        raise InvalidValue(f"at most {MAX_OPEN_PARTS} unfinished photo uploads at a time", "upload_key")
    with path.open("ab") as out:
        # Two requests for the same offset (two tabs, a retry while the first still runs): the lock and the
        # size read under it let exactly one of them write.
        fcntl.flock(out, fcntl.LOCK_EX)
        have = os.fstat(out.fileno()).st_size
        if start != have:
            raise OffsetMismatch(have)
        if have + len(chunk) > settings.max_photo_bytes:
            path.unlink(missing_ok=True)
            raise InvalidValue(f"photo is larger than {settings.max_photo_bytes // (1024 * 1024)} MB", "photos")
        out.write(chunk)
        out.flush()
        return have + len(chunk)


def take(actor: User, key: str, settings) -> Upload | None:
    """The assembled photo of this upload (None if nothing was sent); `discard` after the lead commits."""
    path = _path(actor, key, settings)
    if not path.exists() or path.stat().st_size == 0:
        return None
    return Upload("upload.jpg", path.read_bytes())


def discard(actor: User, key: str, settings) -> None:
    _path(actor, key, settings).unlink(missing_ok=True)


def sweep(settings, now: float | None = None) -> int:
    """Delete parts nobody finished within a day."""
    cutoff = (now or time.time()) - STALE_SECONDS
    removed = 0
    for part in _folder(settings).glob("*.part"):
        if part.stat().st_mtime < cutoff:
            part.unlink(missing_ok=True)
            removed += 1
    return removed


class OffsetMismatch(Conflict):
    """The chunk does not continue the part: the answer carries the offset to continue from."""

    code = "upload_offset_mismatch"

    def __init__(self, have: int):
        super().__init__(f"the station has {have} bytes of this upload: continue from there", "offset")
        self.offset = have
