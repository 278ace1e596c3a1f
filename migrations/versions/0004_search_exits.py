"""family search: deadline alerts, family contacts, exit records, station rules

Revision ID: 0004_search_exits
Revises: 0003_notices
Create Date: 2026-11-23 20:35:00
"""
from alembic import op
import sqlalchemy as sa
import service.models.types

revision = '0004_search_exits'
down_revision = '0003_notices'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('deadline_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('rule_code', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('due_at', service.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('found_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('notified_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_deadline_alert_case_id_case_record')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_deadline_alert_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_alert')),
    sa.UniqueConstraint('case_id', 'rule_code', 'due_at', name='uq_deadline_alert_case_rule_due')
    )
    with op.batch_alter_table('deadline_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadline_alert_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_alert_station_id'), ['station_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_alert_resolved_at'), ['resolved_at'], unique=False)

    op.create_table('family_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('contact_name', sa.String(length=80), nullable=True),
    sa.Column('relation', sa.String(length=40), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_family_contact_case_id_case_record')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_family_contact_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_family_contact'))
    )
    with op.batch_alter_table('family_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_family_contact_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exit_details', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('identified_by_channel', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('can_travel_alone', sa.Boolean(), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_record_identified_by_channel'), ['identified_by_channel'], unique=False)

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=120), nullable=True))

    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rules_overrides', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('calendar', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('email')
    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.drop_column('calendar')
        batch_op.drop_column('rules_overrides')
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_record_identified_by_channel'))
        batch_op.drop_column('can_travel_alone')
        batch_op.drop_column('identified_by_channel')
        batch_op.drop_column('exit_details')
    with op.batch_alter_table('family_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_family_contact_case_id'))
    op.drop_table('family_contact')
    with op.batch_alter_table('deadline_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadline_alert_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_deadline_alert_station_id'))
        batch_op.drop_index(batch_op.f('ix_deadline_alert_case_id'))
    op.drop_table('deadline_alert')
