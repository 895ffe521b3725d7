"""trustlist: this country's scheme, providers, services and publications; imported lists

Revision ID: 0006_trustlist
Revises: 0001
Create Date: 2026-11-22 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_trustlist"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("trustlist",)
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "trustlist_scheme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory", sa.String(length=8), nullable=False),
        sa.Column("operator_name", sa.String(length=255), nullable=False),
        sa.Column("scheme_name", sa.String(length=255), nullable=False),
        sa.Column("street", sa.String(length=255), nullable=False),
        sa.Column("locality", sa.String(length=255), nullable=False),
        sa.Column("electronic_address", sa.String(length=255), nullable=False),
        sa.Column("information_uri", sa.String(length=255), nullable=False),
        sa.Column("signer_serial", sa.String(length=64), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("lotl_sequence", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "trustlist_provider",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("trade_name", sa.String(length=255), nullable=True),
        sa.Column("info_uri", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "trustlist_service",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("provider_id", _BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type_uri", sa.String(length=255), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=False),
        sa.Column("additional_info", sa.Text(), nullable=False),
        sa.Column("qualifiers", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["trustlist_provider.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id", "name", name="uq_trustlist_service_name"),
    )
    with op.batch_alter_table("trustlist_service", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trustlist_service_certificate_sha256"),
            ["certificate_sha256"],
            unique=False,
        )
    op.create_table(
        "trustlist_service_status",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("service_id", _BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=255), nullable=False),
        sa.Column("starting_time", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["trustlist_service.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trustlist_service_status", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trustlist_service_status_service_id"), ["service_id"], unique=False
        )
    op.create_table(
        "trustlist_publication",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("issued", sa.DateTime(), nullable=False),
        sa.Column("next_update", sa.DateTime(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "sequence", name="uq_trustlist_publication"),
    )
    op.create_table(
        "trustlist_pointer",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("territory", sa.String(length=8), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("operator_name", sa.String(length=255), nullable=False),
        sa.Column("certificates_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("territory"),
    )
    op.create_table(
        "trustlist_source",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("pinned_pem", sa.Text(), nullable=False),
        sa.Column("parent_id", _BIG_ID, nullable=True),
        sa.Column("current_import_id", _BIG_ID, nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_reason", sa.String(length=32), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["trustlist_source.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "trustlist_import",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source_id", _BIG_ID, nullable=False),
        sa.Column("territory", sa.String(length=8), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("issued", sa.DateTime(), nullable=False),
        sa.Column("next_update", sa.DateTime(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("signer_sha256", sa.String(length=64), nullable=False),
        sa.Column("providers", sa.Integer(), nullable=False),
        sa.Column("services", sa.Integer(), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["trustlist_source.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trustlist_import", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trustlist_import_source_id"), ["source_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("trustlist_import", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trustlist_import_source_id"))
    op.drop_table("trustlist_import")
    op.drop_table("trustlist_source")
    op.drop_table("trustlist_pointer")
    op.drop_table("trustlist_publication")
    with op.batch_alter_table("trustlist_service_status", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trustlist_service_status_service_id"))
    op.drop_table("trustlist_service_status")
    with op.batch_alter_table("trustlist_service", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trustlist_service_certificate_sha256"))
    op.drop_table("trustlist_service")
    op.drop_table("trustlist_provider")
    op.drop_table("trustlist_scheme")
