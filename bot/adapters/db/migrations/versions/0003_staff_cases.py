"""Staff members, cases with their forum topics and owners, relay links for edits.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        _when("added_at"),
        sa.PrimaryKeyConstraint("user_id", name="pk_staff_members"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column(
            "person_id",
            sa.String(32),
            sa.ForeignKey("people.id", name="fk_cases_person_id_people", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "conversation_id",
            sa.String(32),
            sa.ForeignKey(
                "conversations.id",
                name="fk_cases_conversation_id_conversations",
                ondelete="SET NULL",
            ),
            nullable=True,
        ),
        sa.Column("group_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(64), nullable=False),
        _when("opened_at"),
        _when("updated_at"),
        _when("escalated_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_index("ix_cases_person_id", "cases", ["person_id"])
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_table(
        "relay_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "case_id",
            sa.String(32),
            sa.ForeignKey("cases.id", name="fk_relay_links_case_id_cases", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("person_message_id", sa.BigInteger(), nullable=False),
        sa.Column("topic_message_id", sa.BigInteger(), nullable=False),
        sa.Column("from_person", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_relay_links"),
    )
    op.create_index("ix_relay_links_case_id", "relay_links", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_relay_links_case_id", table_name="relay_links")
    op.drop_table("relay_links")
    op.drop_index("ix_cases_status", table_name="cases")
    op.drop_index("ix_cases_person_id", table_name="cases")
    op.drop_table("cases")
    op.drop_table("staff_members")
