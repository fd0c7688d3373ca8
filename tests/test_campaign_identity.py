"""Campaign identity: a copied or renamed campaign file never makes a post go out twice. `queue` refuses what
another queued campaign already has, a renamed file takes its old campaign over with `continues`, and
`validate` holds the files together and against the outbox (X's duplicate rules included). Through the CLI,
on a real SQLite file and on PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text as sql

from scheduler.store import Store
from project import DEFAULT_ACCOUNTS, StormProject

SECOND_X = """
[[accounts]]
id = "other-x"
platform = "x"
handle = "@other"
credentials = { user_token = "OTHER_X_TOKEN" }
"""

# A yearly storm (always one ahead, whatever the date the tests run on), like campaigns/april-17-prisoners-day.toml.
YEARLY = """
name = "Prisoners' Day"
hashtags = ["#April17"]

[storm]
start = 2027-04-17T12:00:00
timezone = "Asia/Gaza"
repeat = "yearly"
max_lateness = "30m"

[[posts]]
id = "day"
text = "Today is Palestinian Prisoners' Day: we stand with them until freedom #April17"
accounts = ["net-x", "net-mastodon", "net-bluesky"]
images = [{ file = "card.png", alt = "A green card" }]

[[posts]]
id = "more"
text = "Freedom for all Palestinian prisoners, held without charge or trial #April17"
accounts = ["other-x", "net-mastodon"]
"""


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> StormProject:
    return StormProject.create(tmp_path, database=database_url, accounts=DEFAULT_ACCOUNTS + SECOND_X)


def outbox(project: StormProject) -> list[tuple[object, ...]]:
    """Every post and campaign row as stored: what a refused command must leave as it was."""
    with Store(project.load_config().database_url) as store:
        posts = sorted((p.id, p.campaign_id, p.state, p.text, p.idempotency_key, p.planned_at, p.error)
                       for p in store.posts())
        campaigns = [store.campaign(campaign_id) for campaign_id in store.campaign_ids()]
    return posts + [(c.id, c.source, c.continues) for c in campaigns if c]


def pending(project: StormProject) -> list[tuple[str, str, datetime, str]]:
    with Store(project.load_config().database_url) as store:
        return [(p.campaign_id, p.account_id, p.planned_at, p.text) for p in store.posts() if p.state == "pending"]


def storm(name: str, start: str, posts: str) -> str:
    return (f'name = "{name}"\nhashtags = ["#FreeThemAll"]\n\n[storm]\nstart = {start}\ntimezone = "UTC"\n'
            f'max_lateness = "30m"\n\n{posts}')


def post(text: str, *accounts: str, key: str = "call") -> str:
    quoted = ", ".join(f'"{account}"' for account in accounts)
    return f'[[posts]]\nid = "{key}"\ntext = "{text}"\naccounts = [{quoted}]\n\n'


def errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error: ")]


# --- a copied file ------------------------------------------------------------------------------------------
def test_queueing_a_copy_of_a_queued_campaign_is_refused_and_changes_nothing(project: StormProject) -> None:
    original = project.campaign("april-17", YEARLY)
    assert "5 added" in project.succeeds("queue", str(original))
    before = outbox(project)

    copy = project.root / "campaigns" / "april-17-next-year.toml"
    shutil.copy(original, copy)
    output = project.fails("queue", str(copy))
    assert outbox(project) == before  # nothing written, not even the campaign's row

    found = errors(output)
    assert len(found) == 2, output  # one per post of the copy, naming every account it concerns
    day = next(line for line in found if "posts[1] (id \"day\").text" in line)
    assert f"error: {copy}:{project.line_of(YEARLY, 'text = ')}: posts[1] (id \"day\").text: " in day
    assert "accounts net-bluesky, net-mastodon, net-x would post this text twice at 2027-04-17 09:00:00 UTC" in day
    assert "post 'day' of campaign 'april-17' (queued from campaigns/april-17.toml) has it too" in day
    assert 'set `continues = "april-17"` at the top of this file' in day
    assert "`python run.py unqueue april-17`" in day

    # validate says so too: the copy against the outbox, and the two files against each other
    alone = project.fails("validate", str(copy))
    assert "queued from campaigns/april-17.toml" in alone and f"ok {copy}" not in alone
    both = project.fails("validate", str(original), str(copy))
    assert f"post 'day' of {original} (campaign 'april-17') has it too" in both
    assert f"ok {original}" in both and f"ok {copy}" not in both
    assert outbox(project) == before


def test_a_copy_of_a_spread_storm_is_refused_although_its_jitter_differs(project: StormProject) -> None:
    spread = storm("Spread", "2030-06-01T17:00:00", post("A text for Mastodon only #FreeThemAll", "net-mastodon")
                   + post("And a second one for Mastodon #FreeThemAll", "net-mastodon", key="second"))
    spread = spread.replace('max_lateness = "30m"', 'max_lateness = "30m"\nspread = { every = "5m", jitter = "2m" }')
    project.succeeds("queue", str(project.campaign("spread", spread)))
    before = outbox(project)
    output = project.fails("queue", str(project.campaign("spread-copy", spread)))  # another id, other jitter
    assert len(errors(output)) == 2 and "account net-mastodon would post this text twice" in output
    assert outbox(project) == before


# --- a renamed file that says which campaign it continues ---------------------------------------------------
def test_a_renamed_file_that_continues_its_campaign_takes_the_posts_over_once(project: StormProject) -> None:
    old = project.campaign("april-17", YEARLY)
    project.succeeds("queue", str(old))
    before = pending(project)
    assert len(before) == 5

    renamed = project.campaign("prisoners-day", 'continues = "april-17"\n' + YEARLY)
    kept_both = project.fails("validate", str(old), str(renamed))  # the old file must go
    assert f'this file continues campaign \'april-17\' (continues = "april-17"), and {old} is still here' in kept_both
    old.unlink()
    output = project.succeeds("queue", str(renamed))
    assert "queued prisoners-day: 5 added" in output
    assert "continues april-17: took over its 5 pending post(s)" in output

    after = pending(project)
    assert len(after) == len(before) == 5  # the same posts, once each
    assert {campaign for campaign, *_ in after} == {"prisoners-day"}
    assert sorted(rest for _, *rest in after) == sorted(rest for _, *rest in before)
    with Store(project.load_config().database_url) as store:
        old_posts = [p for p in store.posts() if p.campaign_id == "april-17"]
        assert {p.state for p in old_posts} == {"cancelled"}
        assert all("continued by campaign 'prisoners-day' (campaigns/prisoners-day.toml)" in (p.error or "")
                   for p in old_posts)
        record = store.campaign("prisoners-day")
        assert record is not None and record.continues == "april-17"

    # queueing it again changes nothing; the old id has nothing left to unqueue
    assert "0 added, 0 updated, 5 unchanged" in project.succeeds("queue", str(renamed))
    assert "cancelled 0 pending post(s) of april-17" in project.succeeds("unqueue", "april-17")
    assert len(pending(project)) == 5

    # the old file, put back and queued, would post everything again: refused, saying which file is the campaign now
    project.campaign("april-17", YEARLY)
    before_again = outbox(project)
    output = project.fails("queue", str(old))
    assert ("campaign 'prisoners-day' (queued from campaigns/prisoners-day.toml) continues this campaign "
            '(continues = "april-17"): use that file from now on, and delete or move this one') in output
    assert outbox(project) == before_again
    both = project.fails("validate", str(old), str(renamed))
    assert f"error: {old}:" in both and f"campaign 'prisoners-day' (in {renamed}) continues this campaign" in both


def test_taking_over_leaves_what_went_out_or_may_have_where_it_is(project: StormProject) -> None:
    old = project.campaign("april-17", YEARLY)
    project.succeeds("queue", str(old))
    with Store(project.load_config().database_url) as store, store.engine.begin() as db:
        db.execute(sql("update posts set state = 'sent' where id like 'april-17/day/net-x@%'"))
        db.execute(sql("update posts set attempts = 1, uncertain = true where id like 'april-17/more/other-x@%'"))

    renamed = project.campaign("prisoners-day", 'continues = "april-17"\n' + YEARLY)
    old.unlink()
    output = project.succeeds("queue", str(renamed))
    assert "queued prisoners-day: 3 added" in output
    assert "continues april-17: took over its 3 pending post(s)" in output
    assert "2 post(s) left as they are (pending a retry in the campaign continued, sent)" in output
    accounts = sorted((campaign, account) for campaign, account, *_ in pending(project))
    assert accounts == [("april-17", "other-x"), ("prisoners-day", "net-bluesky"), ("prisoners-day", "net-mastodon"),
                        ("prisoners-day", "net-mastodon")]  # the post in doubt stays with its attempts
    with Store(project.load_config().database_url) as store:
        assert not [p for p in store.posts() if p.campaign_id == "prisoners-day" and p.account_id in ("net-x",)]


def test_continues_must_name_a_queued_campaign(project: StormProject) -> None:
    project.succeeds("queue", str(project.campaign("other", storm("Other", "2030-06-01T17:00:00",
                                                                    post("Something else #FreeThemAll", "net-x")))))
    before = outbox(project)
    text = 'continues = "april-17-prisoners-dy"\n' + YEARLY
    typo = project.campaign("prisoners-day", text)
    output = project.fails("queue", str(typo))
    assert (f"error: {typo}:1: continues: 'april-17-prisoners-dy' names no campaign queued in this database "
            "(queued: other); give the id of the campaign this file takes over") in output
    assert outbox(project) == before
    warned = project.succeeds("validate", str(typo))  # validate warns: the file itself is fine
    assert f"warning: {typo}:1: continues: 'april-17-prisoners-dy' names no campaign queued" in warned

    itself = project.campaign("self", 'continues = "self"\n' + YEARLY)
    output = project.fails("validate", str(itself))
    assert f"error: {itself}:1: continues: names this campaign itself ('self')" in output


# --- one campaign id, two files -----------------------------------------------------------------------------
def test_a_file_with_the_id_of_a_campaign_queued_from_another_file(project: StormProject) -> None:
    first = project.campaign("first", 'id = "storm"\n' + storm("Storm", "2030-06-01T17:00:00",
                                                               post("The call #FreeThemAll", "net-mastodon")))
    project.succeeds("queue", str(first))
    before = outbox(project)
    second_text = 'id = "storm"\n' + storm("Storm", "2030-07-01T17:00:00", post("Another call #FreeThemAll",
                                                                                 "net-mastodon"))
    second = project.campaign("second", second_text)
    output = project.fails("queue", str(second))
    assert (f"error: {second}:1: id: campaign 'storm' is queued from campaigns/first.toml, which is still there, "
            "and this file has the same campaign id") in output
    assert outbox(project) == before
    together = project.fails("validate", str(first), str(second))
    assert f"campaign id 'storm' is also the id of {first}" in together
    first.unlink()  # a file renamed with its id kept is the same campaign: re-queued in place
    assert "0 added, 1 updated, 0 unchanged" in project.succeeds("queue", str(second))


# --- X: one text on two accounts, one text twice from one account -------------------------------------------
def test_the_same_text_on_two_x_accounts_in_two_files_is_an_error(project: StormProject) -> None:
    same = "Students are not criminals: free them all #FreeThemAll"
    first = project.campaign("first", storm("First", "2030-06-01T17:00:00", post(same, "net-x")))
    second = project.campaign("second", storm("Second", "2030-06-01T20:00:00", post(same, "other-x")))
    output = project.fails("validate", str(first), str(second))
    [error] = errors(output)
    assert error.startswith(f"error: {second}:")
    assert (f"posts[1] (id \"call\").accounts: sends the same text as post 'call' of {first} (campaign 'first') "
            "from two X accounts (net-x and other-x)") in error
    assert "give each X account its own text" in error
    nearly_same = same.replace("them all", "them all now")
    nearly = project.campaign("second", storm("Second", "2030-06-01T20:00:00", post(nearly_same, "other-x")))
    assert "sends nearly the same text as post 'call'" in project.fails("validate", str(first), str(nearly))
    different = project.campaign("second", storm("Second", "2030-06-01T20:00:00",
                                                 post("Education is a right, not a crime #FreeThemAll", "other-x")))
    project.succeeds("validate", str(first), str(different))
    # storms days apart are not one storm posted from several accounts (X's duplicate window: a day)
    later = project.campaign("second", storm("Second", "2030-06-03T17:00:00", post(same, "other-x")))
    project.succeeds("validate", str(first), str(later))


def test_same_text_twice_from_one_x_account_is_an_error_within_the_window(project: StormProject) -> None:
    text = "Free all student prisoners now #FreeThemAll"
    # within one file: two posts, one hour apart
    within = storm("Within", "2030-06-01T17:00:00", post(text, "net-x") + post(text, "net-x", key="again"))
    within = within.replace('max_lateness = "30m"', 'max_lateness = "30m"\nspread = { every = "1h" }')
    output = project.fails("validate", str(project.campaign("within", within)))
    assert ("posts[2] (id \"again\").text: X refuses the same text twice from one account within 24 hours: account "
            "net-x would post it at 2030-06-01 17:00:00 UTC (post 'call') and at 2030-06-01 18:00:00 UTC") in output
    # in two files: 23 hours apart is an error, 25 hours apart is fine
    first = project.campaign("first", storm("First", "2030-06-01T17:00:00", post(text, "net-x")))
    close = project.campaign("close", storm("Close", "2030-06-02T16:00:00", post(text, "net-x")))
    output = project.fails("validate", str(first), str(close))
    assert f"(post 'call' of {first} (campaign 'first')) and at 2030-06-02 16:00:00 UTC" in output
    far = project.campaign("close", storm("Close", "2030-06-02T18:00:00", post(text, "net-x")))
    project.succeeds("validate", str(first), str(far))
    # Mastodon has no such rule
    mastodon = [project.campaign(name, storm(name, start, post(text, "net-mastodon")))
                for name, start in (("m1", "2030-06-01T17:00:00"), ("m2", "2030-06-01T19:00:00"))]
    project.succeeds("validate", *map(str, mastodon))


def test_validate_checks_a_file_against_the_posts_queued(project: StormProject) -> None:
    same = "Students are not criminals: free them all #FreeThemAll"
    queued = project.campaign("queued", storm("Queued", "2030-06-01T17:00:00", post(same, "net-x")))
    project.succeeds("queue", str(queued))
    queued.unlink()  # only the database knows it now
    other = project.campaign("other", storm("Other", "2030-06-01T17:05:00", post(same, "other-x")))
    output = project.fails("validate", str(other))
    assert ("sends the same text as post 'call' of campaign 'queued' (queued from campaigns/queued.toml) from two X "
            "accounts (net-x and other-x)") in output
    assert project.fails("queue", str(other))  # queue refuses what validate calls an error
    project.succeeds("unqueue", "queued")
    project.succeeds("validate", str(other))
