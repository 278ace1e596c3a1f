"""street leads, campaigns, patrol runs; reporter role

Revision ID: 0005_street_leads
Revises: 0004_search_exits
Create Date: 2026-12-01 17:33:11.313429
"""
from alembic import op
import sqlalchemy as sa
import service.models.types


revision = '0005_street_leads'
down_revision = '0004_search_exits'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('area', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_campaign_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_campaign_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign'))
    )
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_station_id'), ['station_id'], unique=False)

    op.create_table('patrol_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('team', sa.String(length=80), nullable=False),
    sa.Column('area', sa.String(length=200), nullable=True),
    sa.Column('started_at', service.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('people_contacted', sa.Integer(), nullable=False),
    sa.Column('people_brought_in', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_patrol_run_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_patrol_run_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_patrol_run_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_run'))
    )
    with op.batch_alter_table('patrol_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_run_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_run_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_run_station_id'), ['station_id'], unique=False)

    op.create_table('street_lead',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=True),
    sa.Column('seen_at', service.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reported_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lng', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('urgency', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('team', sa.String(length=80), nullable=True),
    sa.Column('assigned_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('on_site_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('face_check', sa.String(length=12), nullable=False),
    sa.Column('face_candidates', sa.JSON(), nullable=True),
    sa.Column('face_checked_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['user_account.id'], name=op.f('fk_street_lead_assigned_by_id_user_account')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_street_lead_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_street_lead_case_id_case_record')),
    sa.ForeignKeyConstraint(['reporter_id'], ['user_account.id'], name=op.f('fk_street_lead_reporter_id_user_account')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_street_lead_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_street_lead')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_street_lead_idempotency_key'))
    )
    with op.batch_alter_table('street_lead', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_street_lead_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_street_lead_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_street_lead_reported_at'), ['reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_street_lead_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_street_lead_station_id'), ['station_id'], unique=False)
        batch_op.create_index('ix_street_lead_station_status', ['station_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_street_lead_status'), ['status'], unique=False)

    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_photo_lead_id'), ['lead_id'], unique=False)
        batch_op.create_unique_constraint('uq_photo_lead_sha256', ['lead_id', 'sha256'])
        batch_op.create_foreign_key(batch_op.f('fk_photo_lead_id_street_lead'), 'street_lead', ['lead_id'], ['id'])

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_source', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))




def downgrade():

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('phone')
        batch_op.drop_column('reporter_source')

    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_photo_lead_id_street_lead'), type_='foreignkey')
        batch_op.drop_constraint('uq_photo_lead_sha256', type_='unique')
        batch_op.drop_index(batch_op.f('ix_photo_lead_id'))
        batch_op.drop_column('lead_id')

    with op.batch_alter_table('street_lead', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_street_lead_status'))
        batch_op.drop_index('ix_street_lead_station_status')
        batch_op.drop_index(batch_op.f('ix_street_lead_station_id'))
        batch_op.drop_index(batch_op.f('ix_street_lead_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_street_lead_reported_at'))
        batch_op.drop_index(batch_op.f('ix_street_lead_case_id'))
        batch_op.drop_index(batch_op.f('ix_street_lead_campaign_id'))

    op.drop_table('street_lead')
    with op.batch_alter_table('patrol_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_run_station_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_run_started_at'))
        batch_op.drop_index(batch_op.f('ix_patrol_run_campaign_id'))

    op.drop_table('patrol_run')
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_station_id'))

    op.drop_table('campaign')

