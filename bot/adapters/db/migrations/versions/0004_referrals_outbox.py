"""Referrals (consented, with an encrypted packet) and the delivery outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column(
            "person_id",
            sa.String(32),
            sa.ForeignKey("people.id", name="fk_referrals_person_id_people", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "conversation_id",
            sa.String(32),
            sa.ForeignKey(
                "conversations.id",
                name="fk_referrals_conversation_id_conversations",
                ondelete="SET NULL",
            ),
            nullable=True,
        ),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("packet_enc", sa.LargeBinary(), nullable=True),
        _when("consent_at"),
        sa.Column("consent_by", sa.String(64), nullable=False),
        sa.Column("override_reason", sa.String(500), nullable=True),
        _when("answer_by"),
        sa.Column("partner_reason", sa.String(500), nullable=True),
        _when("overdue_at", nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_referrals"),
    )
    op.create_index("ix_referrals_person_id", "referrals", ["person_id"])
    op.create_index("ix_referrals_status", "referrals", ["status"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "referral_id",
            sa.String(32),
            sa.ForeignKey(
                "referrals.id", name="fk_outbox_referral_id_referrals", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("secret_env", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        _when("deadline_at"),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("locked_by", sa.String(64), nullable=True),
        _when("locked_until", nullable=True),
        _when("created_at"),
        _when("delivered_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    )
    op.create_index("ix_outbox_referral_id", "outbox", ["referral_id"])
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_next_attempt_at", table_name="outbox")
    op.drop_index("ix_outbox_referral_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_referrals_status", table_name="referrals")
    op.drop_index("ix_referrals_person_id", table_name="referrals")
    op.drop_table("referrals")
