"""heartbeat: the beat's last tick, the sweeper's last run, the last liveness alert

Revision ID: 0006_heartbeat
Revises: 0008_face_templates
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import service.models.types


revision = '0006_heartbeat'
down_revision = '0009_clues'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('heartbeat',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('at', service.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_heartbeat'))
    )


def downgrade():
    op.drop_table('heartbeat')
