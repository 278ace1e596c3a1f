"""clues: description matching, family verification, follow-ups, re-arrival alerts

Revision ID: 0009_clues
Revises: 0008_face_templates
Create Date: 2026-12-04 16:02:28.935859
"""
from alembic import op
import sqlalchemy as sa
import service.models.types


revision = '0009_clues'
down_revision = '0007_subject_choice'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('clue_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_kind', sa.String(length=8), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clue_key'))
    )
    with op.batch_alter_table('clue_key', schema=None) as batch_op:
        batch_op.create_index('ix_clue_key_key_owner', ['key', 'owner_kind', 'owner_id'], unique=False)
        batch_op.create_index('ix_clue_key_owner', ['owner_kind', 'owner_id'], unique=False)

    op.create_table('clue_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_kind', sa.String(length=8), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('source_hash', sa.String(length=64), nullable=False),
    sa.Column('built_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clue_profile')),
    sa.UniqueConstraint('owner_kind', 'owner_id', name='uq_clue_profile_owner')
    )
    op.create_table('follow_up',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=8), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('done_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_follow_up_case_id_case_record')),
    sa.ForeignKeyConstraint(['done_by_id'], ['user_account.id'], name=op.f('fk_follow_up_done_by_id_user_account')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_follow_up_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up')),
    sa.UniqueConstraint('case_id', 'step', name='uq_follow_up_case_step')
    )
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_station_id'), ['station_id'], unique=False)

    op.create_table('handover_verification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('family_name', sa.String(length=80), nullable=True),
    sa.Column('relation', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('checked_by_id', sa.Integer(), nullable=False),
    sa.Column('checked_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user_account.id'], name=op.f('fk_handover_verification_approved_by_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_handover_verification_case_id_case_record')),
    sa.ForeignKeyConstraint(['checked_by_id'], ['user_account.id'], name=op.f('fk_handover_verification_checked_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handover_verification'))
    )
    with op.batch_alter_table('handover_verification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handover_verification_case_id'), ['case_id'], unique=False)

    op.create_table('re_arrival_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('previous_case_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('previous_station_id', sa.Integer(), nullable=False),
    sa.Column('returned_on', sa.Date(), nullable=False),
    sa.Column('exit_type', sa.String(length=24), nullable=False),
    sa.Column('created_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('acknowledged_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['user_account.id'], name=op.f('fk_re_arrival_alert_acknowledged_by_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_re_arrival_alert_case_id_case_record')),
    sa.ForeignKeyConstraint(['previous_case_id'], ['case_record.id'], name=op.f('fk_re_arrival_alert_previous_case_id_case_record')),
    sa.ForeignKeyConstraint(['previous_station_id'], ['station.id'], name=op.f('fk_re_arrival_alert_previous_station_id_station')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_re_arrival_alert_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_re_arrival_alert')),
    sa.UniqueConstraint('case_id', 'previous_case_id', name='uq_re_arrival_alert_pair')
    )
    with op.batch_alter_table('re_arrival_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_re_arrival_alert_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_re_arrival_alert_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_re_arrival_alert_previous_case_id'), ['previous_case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_re_arrival_alert_previous_station_id'), ['previous_station_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_re_arrival_alert_station_id'), ['station_id'], unique=False)

    with op.batch_alter_table('candidate_match', schema=None) as batch_op:
        batch_op.add_column(sa.Column('face_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('description_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('description_band', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('description_evidence', sa.JSON(), nullable=True))
        batch_op.alter_column('engine',
               existing_type=sa.VARCHAR(length=40),
               nullable=True)
        batch_op.alter_column('face_distance',
               existing_type=sa.FLOAT(),
               nullable=True)



def downgrade():
    # Description-only candidates have no face: they cannot stay once face_distance is required again.
    op.execute("DELETE FROM candidate_match WHERE face_distance IS NULL")
    with op.batch_alter_table('candidate_match', schema=None) as batch_op:
        batch_op.alter_column('face_distance',
               existing_type=sa.FLOAT(),
               nullable=False)
        batch_op.alter_column('engine',
               existing_type=sa.VARCHAR(length=40),
               nullable=False)
        batch_op.drop_column('description_evidence')
        batch_op.drop_column('description_band')
        batch_op.drop_column('description_score')
        batch_op.drop_column('face_score')

    with op.batch_alter_table('re_arrival_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_re_arrival_alert_station_id'))
        batch_op.drop_index(batch_op.f('ix_re_arrival_alert_previous_station_id'))
        batch_op.drop_index(batch_op.f('ix_re_arrival_alert_previous_case_id'))
        batch_op.drop_index(batch_op.f('ix_re_arrival_alert_created_at'))
        batch_op.drop_index(batch_op.f('ix_re_arrival_alert_case_id'))

    op.drop_table('re_arrival_alert')
    with op.batch_alter_table('handover_verification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handover_verification_case_id'))

    op.drop_table('handover_verification')
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_station_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_due_on'))
        batch_op.drop_index(batch_op.f('ix_follow_up_case_id'))

    op.drop_table('follow_up')
    op.drop_table('clue_profile')
    with op.batch_alter_table('clue_key', schema=None) as batch_op:
        batch_op.drop_index('ix_clue_key_owner')
        batch_op.drop_index('ix_clue_key_key_owner')

    op.drop_table('clue_key')
