"""registry defaults (the stored default space of `fute spaces default NAME`)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "registry_defaults",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("space_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["embedding_spaces.id"],
            name=op.f("fk_registry_defaults_space_id_embedding_spaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_registry_defaults")),
    )
    with op.batch_alter_table("registry_defaults", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_defaults_space_id"), ["space_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("registry_defaults", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_defaults_space_id"))
    op.drop_table("registry_defaults")
