"""search_gap: searches a gallery shard did not answer (HUIJIA_SEARCH_SHARDS)

Revision ID: 0010_search_shards
Revises: 0006_heartbeat
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import service.models.types


revision = '0010_search_shards'
down_revision = '0006_heartbeat'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('search_gap',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_kind', sa.String(length=8), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('shard', sa.Integer(), nullable=False),
    sa.Column('shard_count', sa.Integer(), nullable=False),
    sa.Column('engine', sa.String(length=40), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('first_missed_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('last_missed_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('retry_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_gap')),
    sa.UniqueConstraint('owner_kind', 'owner_id', 'shard', name='uq_search_gap_owner_shard')
    )
    with op.batch_alter_table('search_gap', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_gap_retry_at'), ['retry_at'], unique=False)


def downgrade():
    with op.batch_alter_table('search_gap', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_gap_retry_at'))
    op.drop_table('search_gap')
