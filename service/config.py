"""Settings from HUIJIA_* environment variables; a missing secret or template key stops boot."""
from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _positive(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _limits(name: str, default: str) -> str:
    from limits import parse_many

    raw = _env(name, default)
    try:
        parse_many(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be limits like '40 per hour; 150 per day', got {raw!r}") from exc
    return raw


def parse_key(name: str, raw: str) -> bytes:
    """A 256-bit key written as URL-safe base64 (`secrets.token_urlsafe(32)`, 43 characters)."""
    try:
        key = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{name} must be URL-safe base64 (python -c 'import secrets; print(secrets.token_urlsafe(32))')") from exc
    if len(key) != 32:
        raise ConfigError(f"{name} must hold 32 bytes (a 256-bit AES key), got {len(key)}")
    return key


def template_keys(instance_dir: Path) -> tuple[bytes, tuple[bytes, ...]]:
    """The face-template key (HUIJIA_TEMPLATE_KEY, else `make run`'s instance/template_key) and retired keys
    still accepted for reading (HUIJIA_TEMPLATE_OLD_KEYS, comma-separated: during a key rotation)."""
    raw = _env("HUIJIA_TEMPLATE_KEY")
    key_file = instance_dir / "template_key"
    if not raw and key_file.is_file():
        raw = key_file.read_text().strip() or None
    if not raw:
        raise ConfigError(
            "HUIJIA_TEMPLATE_KEY is not set: face templates are stored encrypted with it. Set it in the "
            "environment (make run creates one under instance/ for the embedded default)."
        )
    old = tuple(parse_key("HUIJIA_TEMPLATE_OLD_KEYS", part) for part in (_env("HUIJIA_TEMPLATE_OLD_KEYS") or "").split(",")
                if part.strip())
    return parse_key("HUIJIA_TEMPLATE_KEY", raw), old


@dataclass(frozen=True)
class Settings:
    """Typed view of the environment; the Flask config is built from it."""

    instance_dir: Path
    database_url: str
    broker_url: str
    result_backend: str | None
    media_dir: Path
    secret_key: str = field(repr=False)
    # AES-256-GCM key of the face templates, and retired keys still read during a rotation.
    template_key: bytes = field(repr=False)
    template_old_keys: tuple[bytes, ...] = field(repr=False)
    port: int
    max_upload_bytes: int
    max_photo_bytes: int
    max_megapixels: int
    pending_photo_sweep_seconds: int
    sweep_interval_seconds: int
    broker_retry_seconds: int
    backlog_alert_seconds: int
    biometric_retention_days: int
    smtp_host: str | None
    smtp_port: int
    smtp_sender: str
    smtp_user: str | None
    smtp_password: str | None
    face_engine: str
    token_ttl_hours: int
    session_secure: bool
    login_rate_limit: str
    ratelimit_storage_url: str
    default_locale: str
    lead_rate_limit: str
    map_tile_url: str | None
    map_attribution: str
    enrolment_alert_threshold: int
    face_search_alert: str
    search_shards: int = 1
    reencode_batch: int = 100
    shard_budget_ms: int = 2000
    # The shard a `search.<k>` worker serves, set on that worker only: it preloads the shard at start.
    search_shard: int | None = None

    def __post_init__(self) -> None:
        if self.search_shard is not None and not 0 <= self.search_shard < self.search_shards:
            raise ConfigError(f"HUIJIA_SEARCH_SHARD must be in [0, HUIJIA_SEARCH_SHARDS={self.search_shards}), "
                              f"got {self.search_shard}")

    @classmethod
    def from_env(cls) -> "Settings":
        instance_dir = Path(_env("HUIJIA_INSTANCE_DIR", str(PROJECT_ROOT / "instance"))).resolve()
        secret = _env("HUIJIA_SECRET_KEY")
        key_file = instance_dir / "secret_key"
        if not secret and key_file.is_file():
            # The embedded default: `make run` keeps its key here (mode 600), so the CLI in another shell
            # acts on the same instance without exporting it. Production sets HUIJIA_SECRET_KEY.
            secret = key_file.read_text().strip() or None
        if not secret:
            raise ConfigError(
                "HUIJIA_SECRET_KEY is not set. Set it in the environment (make run creates one "
                "under instance/ for the embedded default)."
            )
        template_key, template_old_keys = template_keys(instance_dir)
        return cls(
            instance_dir=instance_dir,
            database_url=_env("HUIJIA_DATABASE_URL", f"sqlite:///{instance_dir / 'huijia.sqlite3'}"),
            broker_url=_env("HUIJIA_BROKER_URL", "filesystem://"),
            result_backend=_env("HUIJIA_RESULT_BACKEND"),
            media_dir=Path(_env("HUIJIA_MEDIA_DIR", str(instance_dir / "media"))).resolve(),
            secret_key=secret,
            template_key=template_key,
            template_old_keys=template_old_keys,
            port=_int("HUIJIA_PORT", 8000),
            # Several photos per form: the request may be larger than one photo.
            max_upload_bytes=_int("HUIJIA_MAX_UPLOAD_BYTES", 120 * 1024 * 1024),
            max_photo_bytes=_int("HUIJIA_MAX_PHOTO_BYTES", 20 * 1024 * 1024),
            max_megapixels=_int("HUIJIA_MAX_MEGAPIXELS", 40),
            pending_photo_sweep_seconds=_int("HUIJIA_PENDING_PHOTO_SWEEP_SECONDS", 300),
            # Also the liveness clock: the beat is stale after two intervals without a tick.
            sweep_interval_seconds=_int("HUIJIA_SWEEP_INTERVAL_SECONDS", 15),
            # After a failed send, enqueue skips the broker this long (the sweeper sends what waited).
            broker_retry_seconds=_int("HUIJIA_BROKER_RETRY_SECONDS", 5),
            backlog_alert_seconds=_int("HUIJIA_BACKLOG_ALERT_SECONDS", 180),
            biometric_retention_days=_int("HUIJIA_BIOMETRIC_RETENTION_DAYS", 30),
            smtp_host=_env("HUIJIA_SMTP_HOST"),
            smtp_port=_int("HUIJIA_SMTP_PORT", 25),
            smtp_sender=_env("HUIJIA_SMTP_SENDER", "huijia@localhost"),
            smtp_user=_env("HUIJIA_SMTP_USER"),
            smtp_password=_env("HUIJIA_SMTP_PASSWORD"),
            face_engine=_env("HUIJIA_FACE_ENGINE", "sface"),
            token_ttl_hours=_int("HUIJIA_TOKEN_TTL_HOURS", 12),
            session_secure=_bool("HUIJIA_SESSION_SECURE", False),
            login_rate_limit=_env("HUIJIA_LOGIN_RATE_LIMIT", "10 per minute"),
            ratelimit_storage_url=_env("HUIJIA_RATELIMIT_STORAGE_URL", "memory://"),
            default_locale=_env("HUIJIA_DEFAULT_LOCALE", "zh_CN"),
            lead_rate_limit=_env("HUIJIA_LEAD_RATE_LIMIT", "20 per hour"),
            map_tile_url=_env("HUIJIA_MAP_TILE_URL"),
            map_attribution=_env("HUIJIA_MAP_ATTRIBUTION", ""),
            # Distinct people with face templates at which admins are told to file with the provincial
            # cyberspace office (人脸识别技术应用安全管理办法, 2025: 100,000 people).
            enrolment_alert_threshold=_int("HUIJIA_ENROLMENT_ALERT_THRESHOLD", 100_000),
            # Face searches one account may cause before admins are alerted (Flask-Limiter syntax, ';' between).
            face_search_alert=_limits("HUIJIA_FACE_SEARCH_ALERT", "40 per hour; 150 per day"),
            search_shards=_positive("HUIJIA_SEARCH_SHARDS", 1),
            shard_budget_ms=_positive("HUIJIA_SHARD_BUDGET_MS", 2000),
            search_shard=_int("HUIJIA_SEARCH_SHARD", -1) if _env("HUIJIA_SEARCH_SHARD") else None,
            # Photos sent per sweep to be encoded again after an engine upgrade (only while the default queue is idle).
            reencode_batch=_positive("HUIJIA_REENCODE_BATCH", 100),
        )

    def flask_config(self) -> dict:
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "MAX_CONTENT_LENGTH": self.max_upload_bytes,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.session_secure,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "WTF_CSRF_TIME_LIMIT": 8 * 3600,
            "BABEL_DEFAULT_LOCALE": self.default_locale,
            "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
            "RATELIMIT_STORAGE_URI": self.ratelimit_storage_url,
            "RATELIMIT_HEADERS_ENABLED": True,
            "HUIJIA": self,
        }
