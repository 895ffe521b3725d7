"""signing: credentials, timestamp serial numbers, API tokens bound to a credential

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("signing",)
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("certificate_id", _BIG_ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificate.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credential_certificate_id"), ["certificate_id"], unique=False
        )

    op.create_table(
        "tsa_token",
        sa.Column("serial", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("gen_time", sa.DateTime(), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["credential.id"]),
        sa.PrimaryKeyConstraint("serial"),
        sqlite_autoincrement=True,
    )

    op.create_table(
        "credential_token",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["credential.id"]),
        sa.ForeignKeyConstraint(["token_id"], ["api_token.id"]),
        sa.PrimaryKeyConstraint("token_id"),
    )
    with op.batch_alter_table("credential_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credential_token_credential_id"), ["credential_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("credential_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_token_credential_id"))
    op.drop_table("credential_token")
    op.drop_table("tsa_token")
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_certificate_id"))
    op.drop_table("credential")
