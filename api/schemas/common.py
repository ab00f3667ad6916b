"""Field types shared by the API's bodies and query parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def _storable(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date is out of range") from None
    if not 1970 <= utc.year <= 9998:
        raise ValueError("expected a date between 1970 and 9998")
    return utc


# A datetime with a timezone, within the range every backend stores and compares.
Timestamp = Annotated[AwareDatetime, AfterValidator(_storable)]
