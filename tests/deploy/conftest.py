from __future__ import annotations

import re
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NATS_DIR = DEPLOY / "nats"
REGIONS = ("us-east", "eu-west", "ap-south")


def nats_users(auth_conf: str) -> dict[str, dict[str, object]]:
    """user → {"password_var", "publish", "subscribe"} read from deploy/nats/auth.conf."""
    users: dict[str, dict[str, object]] = {}
    for block in re.findall(r"\{\s*user:.*?\n    \}", auth_conf, flags=re.S):
        name = re.search(r"user:\s*(\S+)", block)
        password = re.search(r"password:\s*\$(\w+)", block)
        publish = re.search(r"publish:\s*\{\s*allow:\s*\[(.*?)\]", block)
        subscribe = re.search(r"subscribe:\s*\{\s*allow:\s*\[(.*?)\]", block)
        assert name and password and publish and subscribe, block
        users[name.group(1)] = {
            "password_var": password.group(1),
            "publish": re.findall(r'"([^"]+)"', publish.group(1)),
            "subscribe": re.findall(r'"([^"]+)"', subscribe.group(1)),
        }
    return users


def nats_env_vars() -> set[str]:
    """Every $VARIABLE the NATS configuration reads from the environment."""
    text = "".join(p.read_text() for p in NATS_DIR.glob("*.conf"))
    return set(re.findall(r"\$([A-Z][A-Z0-9_]*)", text)) - {"JS", "G", "SYS"}
