"""The database: SQLAlchemy tables, Alembic migrations, and the outbox queries."""

from .outbox import (CANCELLED, FAILED, FINAL_STATES, MISSED, NEEDS_REVIEW, PENDING, SENDING, SENT, STATES,
                     AttemptRow, CampaignRecord, LogFilter, NewPost, PostRow, QueuedPost, QueueReport, Store)

__all__ = ["Store", "NewPost", "CampaignRecord", "PostRow", "AttemptRow", "LogFilter", "QueueReport", "QueuedPost",
           "STATES", "FINAL_STATES", "PENDING", "SENDING", "SENT", "FAILED", "MISSED", "CANCELLED", "NEEDS_REVIEW"]
