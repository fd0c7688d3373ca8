"""Messages that sent organizers the wrong way (issue 11): `unqueue` given a campaign file, and `validate`
calling a campaign file ok above errors that are in config.toml."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from project import StormProject, write_campaign
from scheduler.timing import utcnow


@pytest.fixture
def project(tmp_path: Path) -> StormProject:
    return StormProject.create(tmp_path)


def test_unqueue_given_the_campaign_file_names_its_id(project: StormProject) -> None:
    path = write_campaign(project.root, "april-17", utcnow() + timedelta(days=2))
    project.succeeds("queue", str(path))
    output = project.fails("unqueue", str(path))
    assert f"{path} is a campaign file; unqueue takes the campaign's id, and that file's is 'april-17': " \
           "`python run.py unqueue april-17`" in " ".join(output.split())
    assert "error: :" not in output
    assert "cancelled" in project.succeeds("unqueue", "april-17")


def test_unqueue_given_a_file_with_its_own_id_names_that_id(project: StormProject) -> None:
    path = write_campaign(project.root, "renamed", utcnow() + timedelta(days=2))
    path.write_text('id = "prisoners-day"\n' + path.read_text(), encoding="utf-8")
    output = " ".join(project.fails("unqueue", str(path)).split())
    assert "that file's is 'prisoners-day', which is not queued (`python run.py log` lists what is)" in output


def test_unqueue_given_a_missing_file_says_it_wants_the_id(project: StormProject) -> None:
    output = " ".join(project.fails("unqueue", "campaigns/gone.toml").split())
    assert "campaigns/gone.toml looks like a file, but unqueue takes a campaign's id, as `python run.py log` " \
           "shows it" in output


def test_unqueue_of_an_unknown_id_is_unchanged(project: StormProject) -> None:
    output = project.fails("unqueue", "nothing-here")
    assert "no queued campaign 'nothing-here'; `python run.py log` lists what is queued" in output


def test_validate_in_live_mode_does_not_call_a_file_ok_while_config_toml_has_errors(
        project: StormProject, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NET_X_TOKEN", "NET_MASTODON_TOKEN", "NET_BLUESKY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    project.live()
    good = write_campaign(project.root, "good", utcnow() + timedelta(days=2))
    output = project.fails("validate")
    config = str(project.config_path)
    assert f"error: {config}: accounts.net-x.credentials" in output
    assert f"ok {good}" not in output
    assert f"no errors in the file itself: {good}: 'Test storm', 2 posts (see the errors in {config} above)" \
        in output
    assert f"3 error(s) (3 in {config}, 0 in 1 campaign file(s))" in output


def test_validate_still_says_ok_when_everything_is(project: StormProject) -> None:
    good = write_campaign(project.root, "good", utcnow() + timedelta(days=2))
    assert f"ok {good}: 'Test storm', 2 posts" in project.succeeds("validate")


def test_a_lateness_bound_of_zero_is_refused_not_replaced_by_the_default(project: StormProject) -> None:
    # "0s" used to read as "not set" and become the 15 minutes of config.toml without a word.
    path = write_campaign(project.root, "zero", utcnow() + timedelta(days=2), storm_extra='max_lateness = "0s"')
    output = " ".join(project.fails("validate").split())
    assert f"{path}:" in output and "storm.max_lateness: a lateness bound of 0 marks every post missed" in output
    project.config_path.write_text(project.config_path.read_text() + '\n[defaults]\nmax_lateness = 0\n')
    path.unlink()
    output = " ".join(project.fails("validate").split())
    assert f"{project.config_path}:" in output and "defaults.max_lateness: a lateness bound of 0" in output
