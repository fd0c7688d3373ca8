"""A campaign remembers the campaign it continues (``continues`` in a renamed or copied campaign file took
over that campaign's queued posts), so a later problem can say which file is the campaign now.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("continues", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("campaigns", "continues")
