"""Initial schema: people, conversations, answers, texts, assessments, case events, counts.

Revision ID: 0001
Revises:
Create Date: 2025-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)
NAME = sa.String(64)


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _conversation_fk(table: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(
        "conversation_id",
        ID,
        sa.ForeignKey(
            "conversations.id",
            name=f"fk_{table}_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_ref_enc", sa.LargeBinary(), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("language_explicit", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("last_seen_at"),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
    )
    op.create_index("ix_people_user_key", "people", ["user_key"], unique=True)

    op.create_table(
        "conversations",
        sa.Column("id", ID, nullable=False),
        sa.Column(
            "person_id",
            ID,
            sa.ForeignKey(
                "people.id", name="fk_conversations_person_id_people", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("flow_id", NAME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", NAME, nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
    )
    op.create_index("ix_conversations_person_id", "conversations", ["person_id"])
    op.create_index("ix_conversations_updated_at", "conversations", ["updated_at"])

    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _conversation_fk("answers"),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step_id", NAME, nullable=False),
        sa.Column("value", NAME, nullable=False),
        _when("created_at"),
        _when("retracted_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_answers"),
    )
    op.create_index(
        "ix_answers_conversation_id_seq", "answers", ["conversation_id", "seq"], unique=True
    )

    op.create_table(
        "texts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _conversation_fk("texts"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_texts"),
    )
    op.create_index("ix_texts_conversation_id", "texts", ["conversation_id"])

    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _conversation_fk("assessments"),
        sa.Column("outcome", NAME, nullable=False),
        sa.Column("rule", NAME, nullable=False),
        sa.Column("supporting", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("preliminary", NAME, nullable=False),
        sa.Column("needs_person", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
    )
    op.create_index("ix_assessments_conversation_id", "assessments", ["conversation_id"])

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _conversation_fk("case_events", nullable=True),
        sa.Column(
            "person_id",
            ID,
            sa.ForeignKey("people.id", name="fk_case_events_person_id_people", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("kind", NAME, nullable=False),
        sa.Column("actor", NAME, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_case_events"),
    )
    op.create_index("ix_case_events_conversation_id", "case_events", ["conversation_id"])
    op.create_index("ix_case_events_person_id", "case_events", ["person_id"])

    op.create_table(
        "daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", NAME, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "metric", name="pk_daily_counts"),
    )


def downgrade() -> None:
    for table in (
        "daily_counts",
        "case_events",
        "assessments",
        "texts",
        "answers",
        "conversations",
        "people",
    ):
        op.drop_table(table)
