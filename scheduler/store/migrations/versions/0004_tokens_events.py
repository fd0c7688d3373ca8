"""Account grants that rotate (X OAuth 2.0 refresh tokens), kept encrypted; and events: what the daemon
noticed about accounts, the database and storms (preflight checks, alerts sent, storm summaries).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_tokens",
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("dead", sa.Text),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("account_id", sa.String(200)),
        sa.Column("campaign_id", sa.String(200)),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("events_at", "events", ["at"])


def downgrade() -> None:
    op.drop_index("events_at", table_name="events")
    op.drop_table("events")
    op.drop_table("account_tokens")
