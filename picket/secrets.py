"""API keys and probe tokens: generated once, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
API_KEY_PREFIX = "pk_"
PROBE_TOKEN_PREFIX = "pt_"


def _random_base62(length: int = 32) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_api_key() -> str:
    return API_KEY_PREFIX + _random_base62()


def new_probe_token() -> str:
    return PROBE_TOKEN_PREFIX + _random_base62()


def hash_secret(raw: str) -> str:
    # The secrets are 190 random bits, so a plain digest is as strong as a slow KDF here
    # and keeps per-request key lookup cheap.
    return hashlib.sha256(raw.encode()).hexdigest()


def display_prefix(raw: str) -> str:
    return raw[:8]
