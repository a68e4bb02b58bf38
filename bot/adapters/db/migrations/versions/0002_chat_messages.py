"""Chat message ids for quick exit, and when a person blocked the bot.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "person_id",
            sa.String(32),
            sa.ForeignKey(
                "people.id", name="fk_chat_messages_person_id_people", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("from_bot", sa.Boolean(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chat_messages"),
    )
    op.create_index("ix_chat_messages_person_id", "chat_messages", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_chat_messages_person_id", table_name="chat_messages")
    op.drop_table("chat_messages")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("blocked_at")
