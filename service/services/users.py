"""Users, passwords (argon2) and API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from ..domain.errors import Conflict, InvalidValue
from ..extensions import db
from ..models import ROLES, ApiToken, Station, User
from ..models.types import utcnow

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD = 10


def create_user(username: str, role: str, password: str, station_code: str | None = None) -> User:
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
    db.session.commit()
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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, ttl_hours: int) -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=utcnow() + timedelta(hours=ttl_hours))
    db.session.add(row)
    db.session.commit()
    return token, row


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token or "")))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    return row.user if row.user.active else None


def revoke_token(token: str) -> bool:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token or "")))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    db.session.commit()
    return True
