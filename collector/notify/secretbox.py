"""Channel secrets at rest: sealed with Fernet under PICKET_SECRET_KEY when it is set.

Without a key the secrets are stored unsealed (still never returned by the API); a sealed
blob read without the right key is an error, never silently empty.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken

_SEALED = "fernet:"
_PLAIN = "plain:"


class SecretBoxError(Exception):
    pass


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        self._fernet: Fernet | None = None
        if secret_key:
            # Any passphrase works: Fernet wants 32 url-safe base64 bytes.
            derived = hashlib.sha256(b"picket-channel-secrets:" + secret_key.encode()).digest()
            self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secrets: dict[str, str]) -> str:
        if not secrets:
            return ""
        raw = json.dumps(secrets, sort_keys=True)
        if self._fernet is None:
            return _PLAIN + raw
        return _SEALED + self._fernet.encrypt(raw.encode()).decode()

    def open(self, blob: str) -> dict[str, str]:
        if not blob:
            return {}
        if blob.startswith(_PLAIN):
            return json.loads(blob[len(_PLAIN) :])
        if not blob.startswith(_SEALED):
            raise SecretBoxError("unrecognised secret format")
        if self._fernet is None:
            raise SecretBoxError("channel secrets are sealed but PICKET_SECRET_KEY is not set")
        try:
            return json.loads(self._fernet.decrypt(blob[len(_SEALED) :].encode()))
        except InvalidToken:
            raise SecretBoxError(
                "channel secrets were sealed with another PICKET_SECRET_KEY"
            ) from None
