"""Face templates sealed with AES-256-GCM (OWASP ASVS 6.1.1): the bytes that stand in the database.

Plain Python and `cryptography`, no Flask or SQL (the migration that encrypted the old plain column uses
it too). A template is sealed under its pseudonymous id and engine as associated data, so ciphertext
copied onto another row, a flipped byte or a wrong key all fail the tag check: `TemplateRefused`, never
a vector. Each row names the key it was sealed with (`key_id`, a fingerprint of the key), so a key can be
rotated row by row while the old key is still read.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = b"huijia/face-template/v1"
NONCE_BYTES = 12  # 96-bit random nonces: far below the 2^32 messages per key where collisions matter


class TemplateRefused(Exception):
    """A stored template that cannot be trusted: tampered, swapped, or sealed with a key we do not hold."""

    def __init__(self, template_id: str, reason: str):
        super().__init__(f"face template {template_id} refused: {reason}")
        self.template_id, self.reason = template_id, reason


def key_id_of(key: bytes) -> str:
    """A public fingerprint naming a key on each row (16 hex characters; reveals nothing of the key)."""
    return hashlib.sha256(b"huijia template key id\0" + key).hexdigest()[:16]


def new_template_id() -> str:
    """A pseudonym: 128 random bits, unrelated to any face, photo, case or person."""
    return secrets.token_hex(16)


def _associated(template_id: str, engine: str) -> bytes:
    return b"\0".join((FORMAT, template_id.encode(), engine.encode()))


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


class Keyring:
    """The current key (seals) and retired keys (open only, while a rotation runs)."""

    def __init__(self, current: bytes, retired: Iterable[bytes] = ()):
        keys = [current, *retired]
        if any(len(k) != 32 for k in keys):
            raise ValueError("template keys are 256-bit (32 bytes)")
        self.current_id = key_id_of(current)
        self._aead = {key_id_of(k): AESGCM(k) for k in reversed(keys)}

    @property
    def key_ids(self) -> set[str]:
        return set(self._aead)

    def seal(self, template_id: str, engine: str, vector) -> Sealed:
        plain = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aead[self.current_id].encrypt(nonce, plain, _associated(template_id, engine))
        return Sealed(self.current_id, nonce, ciphertext)

    def open(self, template_id: str, engine: str, key_id: str, nonce: bytes, ciphertext: bytes) -> np.ndarray:
        """The float32 vector, or TemplateRefused; the plain vector lives only in memory."""
        aead = self._aead.get(key_id)
        if aead is None:
            raise TemplateRefused(template_id, f"unknown_key:{key_id}")
        try:
            plain = aead.decrypt(bytes(nonce), bytes(ciphertext), _associated(template_id, engine))
        except (InvalidTag, ValueError):
            raise TemplateRefused(template_id, "authentication_failed") from None
        return np.frombuffer(plain, dtype="<f4").astype(np.float32)
