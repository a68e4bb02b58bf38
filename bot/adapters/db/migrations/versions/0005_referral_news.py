"""What the person and staff were last told about each referral; referrals outlive a person
who asks to be forgotten (anonymous, packet dropped) so that partners still get the withdrawal.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


FK = "fk_referrals_person_id_people"


def upgrade() -> None:
    op.add_column(
        "people",
        sa.Column("referral_news", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("person_told", sa.String(16), nullable=True))
        batch.add_column(sa.Column("staff_told", sa.String(16), nullable=True))
        batch.drop_constraint(FK, type_="foreignkey")
        batch.alter_column("person_id", existing_type=sa.String(32), nullable=True)
        batch.create_foreign_key(FK, "people", ["person_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    op.execute("DELETE FROM referrals WHERE person_id IS NULL")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.alter_column("person_id", existing_type=sa.String(32), nullable=False)
        batch.create_foreign_key(FK, "people", ["person_id"], ["id"], ondelete="CASCADE")
        batch.drop_column("staff_told")
        batch.drop_column("person_told")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("referral_news")
