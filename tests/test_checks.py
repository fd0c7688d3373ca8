"""Checks before the storm: each post as each platform counts it, X's one-text-per-account rule, caps, cost,
and credentials reported by validate."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import checks, service
from scheduler.cli import main
from scheduler.config import load_config
from scheduler.timing import utcnow
from project import DEFAULT_ACCOUNTS, StormProject, write_campaign

SECOND_X = """
[[accounts]]
id = "other-x"
platform = "x"
handle = "@other"
credentials = { user_token = "OTHER_X_TOKEN" }
"""


def check(tmp_path: Path, posts: str, *, extra: str = "", accounts: str = DEFAULT_ACCOUNTS + SECOND_X,
          storm_extra: str = "") -> list:
    StormProject.create(tmp_path, extra=extra, accounts=accounts)
    path = write_campaign(tmp_path, "c", utcnow() + timedelta(days=2), posts=posts, storm_extra=storm_extra)
    config = load_config(tmp_path / "config.toml")
    _, problems = service.checked_plan(path, config)
    return problems


def messages(problems: list) -> str:
    return "\n".join(str(p) for p in problems)


def test_too_long_for_x_names_post_platform_length_and_limit(tmp_path: Path) -> None:
    text = "é" * 200 + " 🇵🇸" * 30 + " #FreeThemAll"
    problems = check(tmp_path, f'[[posts]]\nid = "long"\ntext = "{text}"\naccounts = ["net-x", "net-bluesky"]\n')
    x = [p for p in problems if "X" in p.message]
    assert len(x) == 1 and x[0].is_error
    assert x[0].field == "posts[1].text"
    assert (tmp_path / "campaigns" / "c.toml").read_text().splitlines()[x[0].line - 1].startswith("text = ")
    assert f"{200 + 30 * 3 + 13} weighted chars, the limit is 280" in x[0].message
    assert "account net-x" in x[0].message
    assert not [p for p in problems if "Bluesky" in p.message]  # 243 graphemes fit Bluesky


def test_same_text_to_two_x_accounts_is_an_error(tmp_path: Path) -> None:
    problems = check(tmp_path, '[[posts]]\ntext = "Free them all #FreeThemAll"\naccounts = ["net-x", "other-x"]\n')
    found = [p for p in problems if "X allows one text per account" in p.message]
    assert len(found) == 1 and found[0].is_error and found[0].field == "posts[1].accounts", messages(problems)
    assert "goes to 2 X accounts with 1 distinct wording" in found[0].message
    assert found[0].message.endswith("add 1 more to `variants` (each worded differently) for other-x")


def test_nearly_the_same_text_to_two_x_accounts_is_an_error(tmp_path: Path) -> None:
    posts = ('[[posts]]\nid = "a"\ntext = "Free all Palestinian student prisoners now #FreeThemAll"\n'
             'accounts = ["net-x"]\n'
             '[[posts]]\nid = "b"\ntext = "Free all Palestinian student prisoners now! #FreeThemAll https://example.org"\n'
             'accounts = ["other-x"]\n')
    problems = check(tmp_path, posts)
    assert any("nearly the same text as post 'a'" in p.message for p in problems), messages(problems)
    different = check(tmp_path / "2", '[[posts]]\nid = "a"\ntext = "Free them all #FreeThemAll"\naccounts = ["net-x"]\n'
                      '[[posts]]\nid = "b"\ntext = "Students are not criminals #FreeThemAll"\naccounts = ["other-x"]\n')
    assert not [p for p in different if "X accounts" in p.message]


def test_a_cap_exceeded_is_an_error_with_the_numbers(tmp_path: Path) -> None:
    posts = "".join(f'[[posts]]\nid = "p{n}"\ntext = "Post {n} #FreeThemAll"\naccounts = ["net-x"]\n' for n in range(5))
    free_tier = DEFAULT_ACCOUNTS.replace('credentials = { user_token = "NET_X_TOKEN" }',
                                         'credentials = { user_token = "NET_X_TOKEN" }\nlimits = { posts_per_24h = 3 }')
    problems = check(tmp_path, posts, accounts=free_tier, storm_extra='spread = { every = "1h" }')
    assert any("account net-x would use 5 posts within 24 hours, over its cap of 3" in p.message for p in problems)
    problems = check(tmp_path / "b", posts, extra="[limits.x]\nposts_per_15min = 2\n")
    assert any("5 posts within 15 minutes, over its cap of 2" in p.message for p in problems)


def test_mastodon_image_uploads_are_capped_per_30_minutes(tmp_path: Path) -> None:
    images = ", ".join('{ file = "card.png", alt = "a card" }' for _ in range(3))
    posts = "".join(f'[[posts]]\nid = "m{n}"\ntext = "Post {n} #FreeThemAll"\naccounts = ["net-mastodon"]\n'
                    f'images = [{images}]\n' for n in range(4))
    problems = check(tmp_path, posts, extra="[limits.mastodon]\nmedia_per_30min = 10\n")
    assert any("account net-mastodon would use 12 image uploads within 30 minutes, over its cap of 10" in p.message
               for p in problems), messages(problems)
    assert not [p for p in check(tmp_path / "b", posts) if "image uploads" in p.message]  # default cap 30


def test_images_and_alt_text_limits(tmp_path: Path) -> None:
    images = ", ".join('{ file = "card.png", alt = "x" }' for _ in range(5))
    long_alt = "a" * 1001
    posts = (f'[[posts]]\nid = "many"\ntext = "Many #FreeThemAll"\naccounts = ["net-mastodon"]\nimages = [{images}]\n'
             f'[[posts]]\nid = "alt"\ntext = "Alt #FreeThemAll"\naccounts = ["net-x", "net-mastodon"]\n'
             f'images = [{{ file = "card.png", alt = "{long_alt}" }}]\n')
    text = messages(check(tmp_path, posts))
    assert "5 images, Mastodon takes at most 4 per post" in text
    assert "alt text of 'assets/card.png' is 1001 characters, X (account net-x) allows 1000" in text
    assert "Mastodon allows" not in text


def test_x_cost_estimate(tmp_path: Path) -> None:
    StormProject.create(tmp_path, accounts=DEFAULT_ACCOUNTS + SECOND_X)
    posts = ('[[posts]]\nid = "a"\ntext = "Read https://example.org/call #FreeThemAll"\naccounts = ["net-x"]\n'
             '[[posts]]\nid = "b"\ntext = "Students are not criminals #FreeThemAll"\n'
             'accounts = ["other-x", "net-mastodon"]\n')
    path = write_campaign(tmp_path, "c", utcnow() + timedelta(days=2), posts=posts)
    config = load_config(tmp_path / "config.toml")
    [cost] = checks.costs(service.plan(path, config), config)
    assert (cost.posts, cost.with_url) == (2, 1)
    assert cost.total == pytest.approx(0.215)
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "config.toml"), "plan", str(path)])
    assert result.exit_code == 0, result.output
    assert "X cost estimate: $0.22 for 2 posts (1 with a URL" in result.output


def test_x_reply_warns_about_the_reply_rule(tmp_path: Path) -> None:
    posts = ('[[posts]]\nid = "a"\ntext = "One #FreeThemAll"\naccounts = ["net-x"]\n'
             '[[posts]]\nid = "b"\nreply_to = "a"\ntext = "Two #FreeThemAll"\naccounts = ["net-x"]\n')
    problems = check(tmp_path, posts)
    assert any("23 Feb 2026" in p.message and not p.is_error for p in problems)


def test_validate_reports_missing_credentials_without_showing_secrets(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    StormProject.create(tmp_path, extra='workers = 4\n'.replace("workers = 4\n", ""))
    config_path = tmp_path / "config.toml"
    config_path.write_text(config_path.read_text().replace('mode = "dry-run"', 'mode = "live"'))
    write_campaign(tmp_path, "c", utcnow() + timedelta(days=2))
    monkeypatch.setenv("NET_X_TOKEN", "secret-value-123")
    monkeypatch.delenv("NET_MASTODON_TOKEN", raising=False)
    monkeypatch.delenv("NET_BLUESKY_PASSWORD", raising=False)
    result = CliRunner().invoke(main, ["--config", str(config_path), "validate"])
    assert result.exit_code == 1
    assert "environment variable(s) NET_MASTODON_TOKEN not set" in result.output
    assert "NET_BLUESKY_PASSWORD" in result.output and "NET_X_TOKEN" not in result.output
    assert "secret-value-123" not in result.output


def test_queue_refuses_a_plan_a_platform_would_refuse(tmp_path: Path) -> None:
    StormProject.create(tmp_path, accounts=DEFAULT_ACCOUNTS + SECOND_X)
    path = write_campaign(tmp_path, "c", utcnow() + timedelta(days=2),
                          posts='[[posts]]\ntext = "Same #FreeThemAll"\naccounts = ["net-x", "other-x"]\n')
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "config.toml"), "queue", str(path)])
    assert result.exit_code == 1 and "X allows one text per account" in result.output
    assert "Traceback" not in result.output


def test_online_checks_use_the_mastodon_instances_own_limits(tmp_path: Path) -> None:
    from scheduler.sandbox.core import Sandbox
    from scheduler.sandbox.mastodon import MastodonApp

    instance = MastodonApp()
    instance.set_limits(max_characters=100)
    with Sandbox([instance]) as sandbox:
        accounts = DEFAULT_ACCOUNTS.replace('instance = "https://example.social"',
                                            f'instance = "{sandbox.base_url("mastodon")}"\nsandbox = true')
        StormProject.create(tmp_path, accounts=accounts)
        write_campaign(tmp_path, "c", utcnow() + timedelta(days=2), posts=(
            '[[posts]]\ntext = "' + "word " * 30 + '#FreeThemAll"\naccounts = ["net-mastodon"]\n'))
        args = ["--config", str(tmp_path / "config.toml"), "validate"]
        assert CliRunner().invoke(main, args).exit_code == 0  # 162 chars fit the default 500
        online = CliRunner().invoke(main, [*args, "--online"])
        assert online.exit_code == 1
        assert "too long for Mastodon (account net-mastodon): 162 chars, the limit is 100" in online.output
    unreachable = CliRunner().invoke(main, [*args, "--online"])  # instance gone: a warning, configured limits
    assert unreachable.exit_code == 0 and "could not read the instance's limits" in unreachable.output


WORDS = ("free", "them", "all", "students", "prison", "education", "right", "crime", "now", "palestine", "voice")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=14), min_size=2, max_size=40))
def test_the_near_duplicate_pairing_finds_every_pair_comparing_all_would(sentences: list[list[str]]) -> None:
    """The prefix-filtered join (a sheet of a thousand X posts is not compared pair by pair) misses no pair the
    loose shingle test and the length bound would let through."""
    from datetime import datetime, timezone

    from scheduler.checks import _alike_in_length, _Copy, _lengths_allow, _may_be_alike

    when = datetime(2030, 1, 1, tzinfo=timezone.utc)
    copies = [_Copy(0, "c", "c.toml", f"p{i}", f"a{i}", "x", when, " ".join(words))
              for i, words in enumerate(sentences)]

    def key(first: _Copy, second: _Copy) -> frozenset[str]:
        return frozenset((first.post_key, second.post_key))

    joined = {key(a, b) for a, b in _alike_in_length(copies) if _may_be_alike(a.shingles, b.shingles)}
    every = {key(a, b) for i, a in enumerate(copies) for b in copies[i + 1:]
             if _lengths_allow(a, b) and _may_be_alike(a.shingles, b.shingles)}
    assert joined == every
