"""merge the branches of the first release

Revision ID: 0009_merge
Revises: 0002_checks, 0003_consensus, 0005_notify, 0006_reports
Create Date: 2026-11-24 05:09:21.038221
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401

import picket.db.types  # noqa: F401


revision = '0009_merge'
down_revision = ('0002_checks', '0003_consensus', '0005_notify', '0006_reports')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
