"""Organizations and API keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from picket.db.models import ApiKey, Organization
from picket.db.types import utcnow
from picket.secrets import display_prefix, hash_secret, new_api_key

DEFAULT_ORGANIZATION = "Default"


def create_organization(session: Session, name: str) -> Organization:
    org = Organization(name=name)
    session.add(org)
    session.flush()
    return org


def create_api_key(
    session: Session, organization_id: str, name: str, scopes: list[str], raw_key: str | None = None
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is never stored."""
    raw = raw_key or new_api_key()
    key = ApiKey(
        organization_id=organization_id,
        name=name,
        prefix=display_prefix(raw),
        key_hash=hash_secret(raw),
        scopes=sorted(set(scopes)),
    )
    session.add(key)
    session.flush()
    return key, raw


def find_active_key(session: Session, raw_key: str) -> ApiKey | None:
    return session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_secret(raw_key), ApiKey.revoked_at.is_(None))
    )


def ensure_admin_key(session: Session, raw_key: str) -> ApiKey:
    """Make raw_key a working admin key of the default organization (idempotent)."""
    existing = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(raw_key)))
    if existing is not None:
        existing.revoked_at = None
        return existing
    org = session.scalar(
        select(Organization).where(Organization.name == DEFAULT_ORGANIZATION).limit(1)
    ) or create_organization(session, DEFAULT_ORGANIZATION)
    key, _ = create_api_key(session, org.id, "admin", ["admin", "full"], raw_key=raw_key)
    return key


def touch_key(session: Session, key_id: str) -> None:
    key = session.get(ApiKey, key_id)
    if key is not None:
        key.last_used_at = utcnow()
