"""Users, passwords (argon2) and API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from ..domain import leads as lead_rules
from ..domain.errors import Conflict, InvalidValue
from ..domain.roles import ROLES
from ..extensions import db
from ..models import ApiToken, Station, User
from ..models.types import utcnow
from . import audit

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD = 10


def create_user(username: str, role: str, password: str, station_code: str | None = None) -> User:
    user = _new_user(username, role, password, station_code)
    db.session.commit()
    return user


def create_reporter(actor: User, username: str, password: str, source: str | None, phone: str | None,
                    ip: str | None = None) -> User:
    """A supervisor opens a reporter account (patrol, volunteer, driver...) for their own station."""
    source = source or "volunteer"
    if source not in lead_rules.SOURCES:
        raise InvalidValue(f"source must be one of: {', '.join(lead_rules.SOURCES)}", "source")
    if actor.station is None:
        raise InvalidValue("reporters belong to a station: an admin creates them with the CLI", "station")
    user = _new_user(username, "reporter", password, actor.station.code)
    user.reporter_source, user.phone = source, (phone or "").strip()[:40] or None
    db.session.flush()
    audit.record(actor.id, "user.create", "user", user.id, {"role": "reporter"}, ip)
    db.session.commit()
    return user


def _new_user(username: str, role: str, password: str, station_code: str | None) -> User:
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise InvalidValue("username must be 1 to 64 characters", "username")
    if role not in ROLES:
        raise InvalidValue(f"role must be one of: {', '.join(ROLES)}", "role")
    if len(password or "") < MIN_PASSWORD:
        raise InvalidValue(f"password must have at least {MIN_PASSWORD} characters", "password")
    station = None
    if station_code:
        station = db.session.scalar(select(Station).where(Station.code == station_code))
        if station is None:
            raise InvalidValue(f"no station with code {station_code}", "station")
    elif role != "admin":
        raise InvalidValue("staff and supervisors belong to a station: give --station", "station")
    if db.session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user {username} exists", "username")
    user = User(username=username, role=role, password_hash=_hasher.hash(password), station=station)
    db.session.add(user)
    return user


def authenticate(username: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None or not user.active:
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except VerificationError:
            pass
        return None
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def token_digest(token: str) -> str:
    """What is stored of a bearer token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, ttl_hours: int) -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=token_digest(token), expires_at=utcnow() + timedelta(hours=ttl_hours))
    db.session.add(row)
    db.session.commit()
    return token, row


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token or "")))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    return row.user if row.user.active else None


def revoke_token(token: str) -> bool:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token or "")))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    db.session.commit()
    return True
