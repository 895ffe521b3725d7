"""portal: operator accounts and kept validation reports

Revision ID: 0008_portal
Revises: 0001
Create Date: 2026-11-22 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_portal"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("portal",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "portal_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("view", sa.Text(), nullable=False),
        sa.Column("sealed_json", sa.LargeBinary(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index(
        op.f("ix_portal_report_expires_at"), "portal_report", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_report_expires_at"), table_name="portal_report")
    op.drop_table("portal_report")
    op.drop_table("portal_user")
