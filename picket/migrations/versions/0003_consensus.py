"""consensus: the regions' verdict and pending period on monitor_states

Revision ID: 0003_consensus
Revises: 0001_spine
Create Date: 2026-11-24 03:20:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401

import picket.db.types  # noqa: F401

revision = '0003_consensus'
down_revision = '0001_spine'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('monitor_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health', sa.String(length=16), nullable=False, server_default='unknown'))
        batch_op.add_column(sa.Column('pending_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('pending_since', picket.db.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('monitor_states', schema=None) as batch_op:
        batch_op.drop_column('pending_since')
        batch_op.drop_column('pending_status')
        batch_op.drop_column('health')
