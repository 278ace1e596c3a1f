"""family-search notices: approval and withdrawal; station contact phone

Revision ID: 0003_notices
Revises: 0002_gallery_matching
Create Date: 2026-11-23 20:20:00
"""
from alembic import op
import sqlalchemy as sa
import service.models.types


revision = '0003_notices'
down_revision = '0002_gallery_matching'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user_account.id'], name=op.f('fk_notice_approved_by_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_notice_case_id_case_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice')),
    sa.UniqueConstraint('case_id', name=op.f('uq_notice_case_id'))
    )

    # The contact printed on public notices (set by an admin per station).
    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.drop_column('phone')

    op.drop_table('notice')
