"""Expected HTTP status codes: exact codes ("200", 204) or classes ("2xx")."""

from __future__ import annotations

import re
from collections.abc import Iterable

_PATTERN = re.compile(r"^(?:[1-5][0-9]{2}|[1-5]xx|[1-5][0-9]{2}-[1-5][0-9]{2})$")


def valid_status_pattern(pattern: str | int) -> bool:
    return bool(_PATTERN.match(str(pattern).strip().lower()))


def status_matches(code: int, patterns: Iterable[str | int]) -> bool:
    for raw in patterns:
        pattern = str(raw).strip().lower()
        if pattern.endswith("xx") and code // 100 == int(pattern[0]):
            return True
        if "-" in pattern:
            low, high = (int(part) for part in pattern.split("-"))
            if low <= code <= high:
                return True
        elif pattern.isdigit() and code == int(pattern):
            return True
    return False
