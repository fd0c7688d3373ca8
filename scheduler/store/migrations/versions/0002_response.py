"""Every sent post keeps the platform's answer (posts.response); the dry run's record of what would have
been sent moves there from dry_run_outbox, so the dry-run publisher records through the same result path
as every other publisher.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("response", sa.Text, nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text("select post_id, payload from dry_run_outbox")).all()
    for post_id, payload in rows:
        response = json.dumps({"dry_run": True, **json.loads(payload)}, ensure_ascii=False)
        connection.execute(sa.text("update posts set response = :response where id = :id"),
                           {"response": response, "id": post_id})
    op.drop_table("dry_run_outbox")


def downgrade() -> None:
    raise NotImplementedError("0002 is not reversible: the dry-run records now live in posts.response")
