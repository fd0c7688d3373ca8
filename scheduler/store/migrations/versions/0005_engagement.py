"""Engagement snapshots: each ``report collect`` writes the counts of a storm's posts and the use of its
hashtags, with the time it collected them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engagement",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(200), nullable=False),
        sa.Column("collected_at", sa.DateTime, nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("post_id", sa.String(400)),
        sa.Column("hashtag", sa.String(200)),
        sa.Column("likes", sa.Integer),
        sa.Column("reposts", sa.Integer),
        sa.Column("replies", sa.Integer),
        sa.Column("quotes", sa.Integer),
        sa.Column("uses", sa.Integer),
        sa.Column("accounts", sa.Integer),
        sa.Column("note", sa.Text),
    )
    op.create_index("engagement_campaign", "engagement", ["campaign_id", "collected_at"])


def downgrade() -> None:
    op.drop_index("engagement_campaign", table_name="engagement")
    op.drop_table("engagement")
