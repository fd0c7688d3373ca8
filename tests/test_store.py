"""The store's schema moves forward without losing what an older version wrote (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, text

from scheduler.store import CampaignRecord, NewPost, Store
from scheduler.store.database import MIGRATIONS, make_engine


def at_revision(database_url: str, revision: str) -> Engine:
    """The database as an older version of Stormcaller left it: migrated up to ``revision`` only."""
    engine = make_engine(database_url)
    alembic = AlembicConfig()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, revision)
    return engine


def test_dry_run_records_move_into_the_posts_they_belong_to(database_url: str) -> None:
    """Revision 0002: what the dry run recorded (dry_run_outbox) becomes the post's response, the table goes."""
    engine = at_revision(database_url, "0001")
    with engine.begin() as db:
        db.execute(text("insert into campaigns (id, name, source, state, queued_at) "
                        "values ('c', 'C', 'c.toml', 'active', '2027-04-17 09:00:00')"))
        db.execute(text(
            "insert into posts (id, campaign_id, post_key, account_id, platform, sequence, planned_at, due_at, "
            "deadline, state, text, lang, images, idempotency_key, content_hash, attempts, uncertain, sent_at, "
            "updated_at) values ('c/p1/a', 'c', 'p1', 'a', 'x', 0, '2027-04-17 09:00:00', '2027-04-17 09:00:00', "
            "'2027-04-17 09:15:00', 'sent', 'Free them all', 'en', '[]', '3kabcdefghij2', 'h', 1, false, "
            "'2027-04-17 09:00:01', '2027-04-17 09:00:01')"))
        db.execute(text("insert into dry_run_outbox (idempotency_key, post_id, account_id, platform, payload, "
                        "created_at) values ('3kabcdefghij2', 'c/p1/a', 'a', 'x', :payload, '2027-04-17 09:00:01')"),
                   {"payload": json.dumps({"text": "Free them all", "images": []})})
    engine.dispose()

    with Store(database_url) as store:  # opening migrates to the newest revision
        assert store.recorded_response("3kabcdefghij2") == {"dry_run": True, "text": "Free them all", "images": []}
        [post] = store.posts()
        assert post.state == "sent" and post.text == "Free them all"
        with store.engine.connect() as db:
            tables = set(db.execute(text("select table_name from information_schema.tables "
                                                  "where table_schema = current_schema()")).scalars()) \
                if store.is_postgres else \
                set(db.execute(text("select name from sqlite_master where type = 'table'")).scalars())
        assert "dry_run_outbox" not in tables


def test_campaigns_learn_which_campaign_they_continue(database_url: str) -> None:
    """Revision 0003: campaigns.continues, empty for campaigns queued before; a continuing campaign records it."""
    engine = at_revision(database_url, "0002")
    with engine.begin() as db:
        db.execute(text("insert into campaigns (id, name, source, state, queued_at) "
                        "values ('c', 'C', 'campaigns/c.toml', 'active', '2027-04-17 09:00:00')"))
        db.execute(text(
            "insert into posts (id, campaign_id, post_key, account_id, platform, sequence, planned_at, due_at, "
            "deadline, state, text, lang, images, idempotency_key, content_hash, attempts, uncertain, updated_at) "
            "values ('c/p1/a', 'c', 'p1', 'a', 'mastodon', 0, '2030-04-17 09:00:00', '2030-04-17 09:00:00', "
            "'2030-04-17 09:15:00', 'pending', 'Free them all', 'en', '[]', '3kabcdefghij2', 'h', 0, false, "
            "'2027-04-17 09:00:01')"))
    engine.dispose()

    with Store(database_url) as store:  # opening migrates to the newest revision
        assert store.campaign("c") == CampaignRecord("c", "C", "campaigns/c.toml", None)
        [post] = store.posts()
        planned = NewPost(id="d/p1/a", campaign_id="d", post_key="p1", account_id="a", platform="mastodon",
                          sequence=0, due_at=post.planned_at, deadline=post.deadline, text=post.text, lang="en",
                          images=(), reply_to_id=None, content_hash="h")
        report = store.queue(CampaignRecord("d", "D", "campaigns/d.toml", continues="c"), [planned])
        assert report.added == ["d/p1/a"] and report.taken_over == ["c/p1/a"]
        assert store.campaign("d") == CampaignRecord("d", "D", "campaigns/d.toml", "c")
        assert {(p.id, p.state) for p in store.posts()} == {("c/p1/a", "cancelled"), ("d/p1/a", "pending")}


def test_the_head_revision_the_store_knows_is_alembics_own() -> None:
    """An up-to-date database is recognized without Alembic (see HEAD_REVISION): a new migration must move it."""
    from scheduler.store.database import HEAD_REVISION, alembic_head

    assert HEAD_REVISION == alembic_head()
