"""subject choice: how a face was chosen (only / auto / staff / plausible), photo date; reason codes

Revision ID: 0007_subject_choice
Revises: 0008_face_templates
Create Date: 2026-12-04 16:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_subject_choice'
down_revision = '0008_face_templates'
branch_labels = None
depends_on = None


photo = sa.table('photo', sa.column('id', sa.Integer), sa.column('status', sa.String),
                 sa.column('status_reason', sa.String))
face = sa.table('face', sa.column('photo_id', sa.Integer), sa.column('selected', sa.Boolean),
                sa.column('choice', sa.String))


def _reason_code(status, reason):
    """The code a reason written before this revision stands for (None: unchanged)."""
    words = (reason or '').split(' ')
    if reason == 'face chosen by staff':
        return 'staff_chosen'
    if status == 'multiple_faces' and len(words) == 2 and words[1] == 'faces' and words[0].isdigit():
        return 'faces:' + words[0]
    if status == 'invalid' and reason.startswith('processing failed ') and len(words) == 4 and words[2].isdigit():
        return 'failed:' + words[2]
    if reason == 'original file is missing from media storage':
        return 'file_missing'
    if reason.startswith('image could not be decoded'):
        return 'undecodable'
    return None


def upgrade():
    op.add_column('face', sa.Column('choice', sa.String(length=12), nullable=True))
    op.add_column('photo', sa.Column('taken_on', sa.Date(), nullable=True))
    # Portable (PostgreSQL and the embedded SQLite default): rows read and written one by one.
    bind = op.get_bind()
    rows = bind.execute(sa.select(photo.c.id, photo.c.status, photo.c.status_reason)
                        .where(photo.c.status_reason.is_not(None))).all()
    staff_chosen = []
    for photo_id, status, reason in rows:
        code = _reason_code(status, reason)
        if code is not None:
            bind.execute(photo.update().where(photo.c.id == photo_id).values(status_reason=code))
        if code == 'staff_chosen':
            staff_chosen.append(photo_id)
    # Faces matched before this revision: a staff pick, or the only usable face.
    bind.execute(face.update().where(face.c.selected.is_(True)).values(choice='only'))
    if staff_chosen:
        bind.execute(face.update().where(face.c.selected.is_(True), face.c.photo_id.in_(staff_chosen)).values(choice='staff'))


def downgrade():
    bind = op.get_bind()
    bind.execute(photo.update().where(photo.c.status_reason == 'staff_chosen').values(status_reason='face chosen by staff'))
    with op.batch_alter_table('photo') as batch:
        batch.drop_column('taken_on')
    with op.batch_alter_table('face') as batch:
        batch.drop_column('choice')
