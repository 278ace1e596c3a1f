"""face templates encrypted and stored apart; legal basis, processing record, privacy alerts

Revision ID: 0008_face_templates
Revises: 0005_street_leads
Create Date: 2026-12-04 16:03:27.114338

Every face's plain `embedding` becomes an AES-256-GCM sealed row of `face_template` (a random pseudonym,
the engine, the key id, nonce and ciphertext: nothing that names a person), the face keeps only the
pseudonym, and the plain column is dropped. Then the old bytes are removed from the database files too:
on PostgreSQL the `face` table is rewritten (VACUUM FULL, outside the migration's transaction), on SQLite
freed pages are overwritten (secure_delete) and the file is vacuumed.

The key: HUIJIA_TEMPLATE_KEY, else <HUIJIA_INSTANCE_DIR>/template_key (what `make run` writes); it is
needed only when faces exist. `flask --app service db upgrade` uses the app's settings. A database
upgraded without faces needs no key. Downgrade decrypts the templates back into the plain column.

Every person with a face template gets their legal basis on record (biometric_basis, with an audit row).
"""
import os
from pathlib import Path

from alembic import op
import numpy as np
import sqlalchemy as sa
import service.models.types

revision = '0008_face_templates'
down_revision = '0005_street_leads'
branch_labels = None
depends_on = None

BATCH = 1000

face = sa.table("face", sa.column("id", sa.Integer), sa.column("engine", sa.String), sa.column("owner_kind", sa.String),
                sa.column("owner_id", sa.Integer), sa.column("embedding", sa.LargeBinary),
                sa.column("template_id", sa.String))
face_template = sa.table("face_template", sa.column("id", sa.String), sa.column("engine", sa.String),
                         sa.column("key_id", sa.String), sa.column("nonce", sa.LargeBinary),
                         sa.column("ciphertext", sa.LargeBinary))
biometric_basis = sa.table("biometric_basis", sa.column("owner_kind", sa.String), sa.column("owner_id", sa.Integer),
                           sa.column("basis", sa.String), sa.column("purpose", sa.String), sa.column("minor", sa.Boolean))
audit_log = sa.table("audit_log", sa.column("action", sa.String), sa.column("object_type", sa.String),
                     sa.column("object_id", sa.Integer), sa.column("detail", sa.JSON))


def _keyring():
    from flask import current_app, has_app_context

    from service.config import PROJECT_ROOT, template_keys
    from service.matching.sealed import Keyring

    if has_app_context() and "HUIJIA" in current_app.config:
        settings = current_app.config["HUIJIA"]
        return Keyring(settings.template_key, settings.template_old_keys)
    instance = Path(os.environ.get("HUIJIA_INSTANCE_DIR") or PROJECT_ROOT / "instance").resolve()
    return Keyring(*template_keys(instance))


def upgrade():
    bind = op.get_bind()
    # The key first: without it nothing may change (SQLite's DDL is not undone when a migration fails).
    has_faces = bind.execute(sa.select(face.c.id).where(face.c.embedding.is_not(None)).limit(1)).first() is not None
    ring = _keyring() if has_faces else None
    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete = ON")  # pages freed below are overwritten, not left with embeddings
    op.create_table('biometric_basis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_kind', sa.String(length=8), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('basis', sa.String(length=24), nullable=False),
    sa.Column('purpose', sa.String(length=24), nullable=False),
    sa.Column('minor', sa.Boolean(), nullable=False),
    sa.Column('recorded_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_biometric_basis')),
    sa.UniqueConstraint('owner_kind', 'owner_id', name='uq_biometric_basis_owner')
    )
    op.create_table('face_template',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('engine', sa.String(length=40), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_template'))
    )
    with op.batch_alter_table('face_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_template_key_id'), ['key_id'], unique=False)

    op.create_table('privacy_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('found_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('notified_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', service.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['user_account.id'], name=op.f('fk_privacy_alert_resolved_by_id_user_account')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_privacy_alert_station_id_station')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_privacy_alert_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_alert')),
    sa.UniqueConstraint('key', name=op.f('uq_privacy_alert_key'))
    )
    with op.batch_alter_table('privacy_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privacy_alert_found_at'), ['found_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_privacy_alert_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_privacy_alert_user_id'), ['user_id'], unique=False)

    op.create_table('processing_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('controller', sa.String(length=200), nullable=True),
    sa.Column('responsible_person', sa.String(length=80), nullable=True),
    sa.Column('contact', sa.String(length=120), nullable=True),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('data_categories', sa.Text(), nullable=True),
    sa.Column('retention', sa.Text(), nullable=True),
    sa.Column('recipients', sa.Text(), nullable=True),
    sa.Column('security_measures', sa.Text(), nullable=True),
    sa.Column('assessment_reference', sa.String(length=120), nullable=True),
    sa.Column('assessed_on', sa.Date(), nullable=True),
    sa.Column('review_due_on', sa.Date(), nullable=True),
    sa.Column('filing_reference', sa.String(length=120), nullable=True),
    sa.Column('filed_on', sa.Date(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', service.models.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_processing_record_station_id_station')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_processing_record_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processing_record')),
    sa.UniqueConstraint('station_id', name=op.f('uq_processing_record_station_id'))
    )
    with op.batch_alter_table('face', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_id', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_face_template_id'), ['template_id'])
        batch_op.create_foreign_key(batch_op.f('fk_face_template_id_face_template'), 'face_template', ['template_id'], ['id'], ondelete='SET NULL')

    _seal_embeddings(bind, ring)
    _record_bases(bind)

    with op.batch_alter_table('face', schema=None) as batch_op:
        batch_op.drop_column('embedding')
    _scrub(bind)


def _seal_embeddings(bind, ring) -> None:
    from service.matching.sealed import new_template_id

    after, moved = 0, 0
    while True:
        rows = bind.execute(sa.select(face.c.id, face.c.engine, face.c.embedding)
                            .where(face.c.embedding.is_not(None), face.c.id > after)
                            .order_by(face.c.id).limit(BATCH)).all()
        if not rows:
            break
        sealed_rows, links = [], []
        for row in rows:
            template_id = new_template_id()
            sealed = ring.seal(template_id, row.engine, np.frombuffer(bytes(row.embedding), "<f4"))
            sealed_rows.append({"id": template_id, "engine": row.engine, "key_id": sealed.key_id,
                                "nonce": sealed.nonce, "ciphertext": sealed.ciphertext})
            links.append({"face_id": row.id, "tid": template_id})
        bind.execute(face_template.insert(), sealed_rows)
        bind.execute(face.update().where(face.c.id == sa.bindparam("face_id")).values(template_id=sa.bindparam("tid"),
                                                                                      embedding=None), links)
        after, moved = rows[-1].id, moved + len(rows)
    if moved:
        print(f"0008_face_templates: {moved} face templates sealed with key id {ring.current_id}")


def _record_bases(bind) -> None:
    """The legal basis of everyone already enrolled, as the app records it from now on (matching.enrolment)."""
    from datetime import date

    from service.domain import biometrics

    owners = bind.execute(sa.select(face.c.owner_kind, face.c.owner_id).where(face.c.template_id.is_not(None))
                          .distinct()).all()
    today = date.today()
    rows = []
    for kind, owner_id in owners:
        if kind == "case":
            minor = bind.execute(sa.text("SELECT is_minor FROM case_record WHERE id = :i"), {"i": owner_id}).scalar()
            basis = biometrics.basis_for("case", bool(minor)) if minor is not None else None
        elif kind == "lead":
            urgency = bind.execute(sa.select(sa.column("urgency", sa.JSON)).select_from(sa.table("street_lead"))
                                   .where(sa.column("id") == owner_id)).scalar()
            basis = biometrics.basis_for("lead", "minor" in (urgency or []))
        else:
            report = bind.execute(sa.text("SELECT birth_date, age_at_missing, missing_since, source FROM gallery_report "
                                          "WHERE id = :i"), {"i": owner_id}).first()
            basis = None
            if report is not None:
                birth, age, since = (_date(report[0]), report[1], _date(report[2]))
                basis = biometrics.basis_for("report", biometrics.report_is_minor(today, birth, age, since), report[3])
        if basis is not None:
            rows.append({"owner_kind": kind, "owner_id": owner_id, "basis": basis.basis, "purpose": basis.purpose,
                         "minor": basis.minor})
    if rows:
        bind.execute(biometric_basis.insert(), rows)
        bind.execute(audit_log.insert(), [{"action": "biometric.enrol", "object_type": r["owner_kind"],
                                           "object_id": r["owner_id"],
                                           "detail": {"basis": r["basis"], "purpose": r["purpose"], "minor": r["minor"],
                                                      "via": "migration 0008"}} for r in rows])


def _date(value):
    from datetime import date

    return date.fromisoformat(value) if isinstance(value, str) else value


def _scrub(bind) -> None:
    """The dropped column's bytes leave the database files, not only the schema."""
    if bind.dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute("VACUUM FULL face")
    elif bind.dialect.name == "sqlite":
        with op.get_context().autocommit_block():
            op.execute("VACUUM")


def downgrade():
    bind = op.get_bind()
    with op.batch_alter_table('face', schema=None) as batch_op:
        batch_op.add_column(sa.Column('embedding', sa.LargeBinary(), nullable=True))
    ring, after = None, ""
    while True:
        rows = bind.execute(sa.select(face.c.id, face.c.engine, face_template.c.id.label("tid"), face_template.c.key_id,
                                      face_template.c.nonce, face_template.c.ciphertext)
                            .select_from(face.join(face_template, face.c.template_id == face_template.c.id))
                            .where(face_template.c.id > after).order_by(face_template.c.id).limit(BATCH)).all()
        if not rows:
            break
        ring = ring or _keyring()
        bind.execute(face.update().where(face.c.id == sa.bindparam("face_id")).values(embedding=sa.bindparam("plain")),
                     [{"face_id": r.id, "plain": ring.open(r.tid, r.engine, r.key_id, r.nonce, r.ciphertext).tobytes()}
                      for r in rows])
        after = rows[-1].tid
    with op.batch_alter_table('face', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_face_template_id_face_template'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_face_template_id'), type_='unique')
        batch_op.drop_column('template_id')

    op.drop_table('processing_record')
    with op.batch_alter_table('privacy_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privacy_alert_user_id'))
        batch_op.drop_index(batch_op.f('ix_privacy_alert_kind'))
        batch_op.drop_index(batch_op.f('ix_privacy_alert_found_at'))

    op.drop_table('privacy_alert')
    with op.batch_alter_table('face_template', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_template_key_id'))

    op.drop_table('face_template')
    op.drop_table('biometric_basis')
