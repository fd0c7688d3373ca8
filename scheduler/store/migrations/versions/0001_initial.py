"""The first tables: campaigns, posts, attempts, daemons, dry_run_outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

from scheduler.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("queued_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.String(400), primary_key=True),
        sa.Column("campaign_id", sa.String(200), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("post_key", sa.String(200), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("planned_at", UTCDateTime, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("deadline", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("lang", sa.String(20)),
        sa.Column("images", sa.Text, nullable=False),
        sa.Column("reply_to_id", sa.String(400)),
        sa.Column("idempotency_key", sa.String(40), nullable=False),
        sa.Column("content_hash", sa.String(40), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("uncertain", sa.Boolean, nullable=False),
        sa.Column("claimed_by", sa.String(100)),
        sa.Column("claimed_at", UTCDateTime),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("platform_id", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("reply_ref", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("posts_due", "posts", ["state", "due_at"])
    op.create_index("posts_campaign", "posts", ["campaign_id"])
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("post_id", sa.String(400), sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("daemon_id", sa.String(100), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime),
        sa.Column("outcome", sa.String(20)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("attempts_post", "attempts", ["post_id"])
    op.create_table(
        "daemons",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("heartbeat_at", UTCDateTime, nullable=False),
        sa.Column("stopped_at", UTCDateTime),
    )
    op.create_table(
        "dry_run_outbox",
        sa.Column("idempotency_key", sa.String(40), primary_key=True),
        sa.Column("post_id", sa.String(400), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("dry_run_outbox", "daemons", "attempts", "posts", "campaigns"):
        op.drop_table(table)
