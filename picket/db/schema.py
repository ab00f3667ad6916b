"""Every model module, imported once, so Base.metadata holds the whole schema.

Alembic and the schema test use this; a new model module adds its import here.
"""

from picket.db import (
    models_checks,  # noqa: F401
    models_notify,  # noqa: F401
    models_reports,  # noqa: F401
)
from picket.db.models import Base

__all__ = ["Base"]
