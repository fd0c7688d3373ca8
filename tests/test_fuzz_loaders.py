"""Property-based test of the campaign and config loaders (Hypothesis): thousands of generated and mutated
files, each through `validate` and `plan` on the CLI the way an organizer runs them, and every outcome is a
clean result or a user error (exit status 0 or 1, the problems printed): no traceback, no other exception,
no hang.

The files are the sample campaigns in campaigns/ (and the test suite's good campaign) and the sample
config.toml, mutated: keys deleted, duplicated or misspelt, values of the wrong type, huge and negative
numbers, infinities, dates where strings or durations go, odd Unicode, arrays and tables nested hundreds of
levels deep, files cut off in the middle.

2,700 examples (700 for each of the three sample campaigns, 600 configs), each through `validate` and `plan`:
5,400 runs of the CLI, about a minute on four workers (marked slow). An example that runs 30 s fails
(Hypothesis's deadline); one still running after 60 s is stopped and fails as hung.

The examples are the same on every run (``derandomize``), so CI is repeatable. To look further, run with
``STORM_FUZZ=explore`` (random examples, four times as many; ``STORM_FUZZ_SCALE`` sets the factor): any
failure it finds is printed with the file.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from project import GOOD_CAMPAIGN, REPO
from scheduler.cli import main

pytestmark = pytest.mark.slow

EXPLORE = os.environ.get("STORM_FUZZ") == "explore"
SCALE = float(os.environ.get("STORM_FUZZ_SCALE", "4" if EXPLORE else "1"))  # more (or fewer) examples
CAMPAIGN_EXAMPLES = int(700 * SCALE)    # per sample campaign (three), each run through validate and plan
CONFIG_EXAMPLES = int(600 * SCALE)
DEADLINE = timedelta(seconds=30)  # one example (validate and plan) takes well under a second, even on a busy CI
HANG = 60  # seconds: an example still running then is stopped, and fails as hung

FUZZ = settings(max_examples=CAMPAIGN_EXAMPLES, deadline=DEADLINE, derandomize=not EXPLORE, database=None,
                suppress_health_check=list(HealthCheck), print_blob=True)


# --- TOML out -------------------------------------------------------------------------------------------
_BARE = re.compile(r"^[A-Za-z0-9_\-]+$")


def toml_key(key: str) -> str:
    return key if _BARE.match(key) else toml_string(key)


def toml_string(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")  # a lone surrogate is refused by the parser: a syntax error to report
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Raw):
        return value.text
    raise TypeError(type(value))


@dataclass(frozen=True)
class Raw:
    """TOML text written as it is (what no Python value gives: 1e400, nesting beyond the parser's depth)."""

    text: str


def toml_document(data: dict[str, Any]) -> str:
    """Plain keys first, then each table ([storm]) and array of tables ([[posts]]), as people write them."""
    lines = []
    tables = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            tables.append((key, value, False))
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            tables.append((key, value, True))
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for key, value, is_array in tables:
        for item in (value if is_array else [value]):
            lines.append("")
            lines.append(f"[[{toml_key(key)}]]" if is_array else f"[{toml_key(key)}]")
            lines.extend(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in item.items())
    return "\n".join(lines) + "\n"


# --- what goes where --------------------------------------------------------------------------------------
ODD_TEXT = [
    "", " ", "\t\n", "‮evil‬", "🏳️‍🌈" * 3, "👋🏽‍", "🇵🇸🇵", "a\u0301" * 50, "ﷺ", "\u200b", "#", "#️⃣",
    "x" * 5000, "🫱🏼‍🫲🏿", "日本語のテキスト", "עברית", "نص عربي #FreePalestinianPrisoners", "null", "0", "-1",
    "15m", "9999999999d", "1e400", "inf", "NaN", "2027-04-17T12:00:00", "../../etc/passwd", "/abs.png",
    "a\\b.png", "card.png ", "x" * 300 + ".png", "Asia/Gaza", "America/New_York", "Amrica/New_York", "UTC",
    "Etc/GMT+14", "yearly", "earlier", "later", "after", "before", "dry-run", "live", "x", "mastodon", "bluesky",
    "https://example.social", "http://", "sqlite:///", "\x00", "\\u0000", "café", "İ", "ß" * 100,
]
ODD_NUMBERS: list[Any] = [
    0, -1, 1, 2, 50, 51, 2000, 2001, 10**6, -(10**6), 2**31, 2**63, -(2**63), 10**20, -(10**20), 10**400,
    0.0, -0.0, 0.5, -0.5, 1e-300, 1e300, float("inf"), float("-inf"), float("nan"), Raw("1e400"), Raw("-1e400"),
    Raw("0x7fffffffffffffff"), Raw("1_000_000"),
]
ODD_TIMES: list[Any] = [
    datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), datetime(1969, 12, 31, 23), datetime(1970, 1, 1),
    datetime(2999, 12, 31, 23, 59), datetime(3000, 1, 1), datetime(2027, 3, 14, 2, 30), datetime(2027, 11, 7, 1, 30),
    datetime(2032, 3, 27, 2, 30), datetime(2027, 10, 30, 1, 30), datetime(2028, 2, 29, 12),
    datetime(2027, 4, 17, 12, tzinfo=timezone.utc), datetime(2027, 4, 17, 12, tzinfo=timezone(timedelta(hours=14))),
    date(2027, 4, 17), date(1, 1, 1), time(12, 0), time(23, 59, 59, 999999),
]


def deep(depth: int, table: bool) -> Raw:
    return Raw(("{a = " * depth + "1" + "}" * depth) if table else ("[" * depth + "]" * depth))


leaf = st.one_of(
    st.sampled_from(ODD_TEXT), st.sampled_from(ODD_NUMBERS), st.sampled_from(ODD_TIMES), st.booleans(),
    st.text(max_size=40), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.builds(deep, st.sampled_from([2, 50, 300, 1000, 3000]), st.booleans()),
)
values = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)

# Keys that are in some table of a campaign or config file, to misplace or give a wrong value to.
KNOWN_KEYS = [
    "name", "id", "continues", "hashtags", "storm", "posts", "require_alt_text", "start", "timezone", "announce",
    "ambiguous", "nonexistent", "repeat", "occurrences", "spread", "every", "window", "jitter", "max_lateness",
    "text", "lang", "accounts", "images", "file", "alt", "reply_to", "zone", "label", "database", "url", "defaults",
    "language", "dispatch", "mode", "workers", "refresh", "shutdown_grace", "request_timeout", "heartbeat",
    "stale_after", "retry_base", "retry_cap", "limits", "x", "mastodon", "bluesky", "sandbox", "platform", "handle",
    "credentials", "instance", "max_characters", "max_weighted_length", "max_graphemes", "image_max_bytes",
    "posts_per_24h", "statuses_per_3h", "user_token", "access_token", "app_password",
]


# --- mutations ----------------------------------------------------------------------------------------------
def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value in the tree (dict keys and list indexes)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix + (key,)
            yield from paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield prefix + (index,)
            yield from paths(value, prefix + (index,))


def containers(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, (dict, list)):
        yield prefix
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from containers(value, prefix + (key,))


def at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> str:
    """``base`` (parsed TOML), changed a few times, as TOML text (sometimes damaged as text too)."""
    data = _restore(json.loads(json.dumps(base, default=_keep)))  # a deep copy
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3, 4]))):
        kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "duplicate", "grow", "retext",
                                     "retext"]))
        everywhere = list(paths(data))
        if kind in ("replace", "delete") and everywhere:
            path = draw(st.sampled_from(everywhere))
            parent = at(data, path[:-1])
            if kind == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(values)
        elif kind == "add":
            where = at(data, draw(st.sampled_from(list(containers(data)))))
            if isinstance(where, dict):
                where[draw(st.sampled_from(KNOWN_KEYS) | st.text(min_size=1, max_size=10))] = draw(values)
            else:
                where.append(draw(values))
        elif kind == "duplicate":
            lists = [path for path in containers(data) if isinstance(at(data, path), list) and at(data, path)]
            if lists:
                items = at(data, draw(st.sampled_from(lists)))
                items.extend([items[draw(st.integers(0, len(items) - 1))]] * draw(st.sampled_from([1, 2, 1100])))
        elif kind == "retext":  # a text that may still be a good post: counted, checked and shown by plan
            posts = data.get("posts")
            if isinstance(posts, list) and posts and isinstance(posts[-1], dict):
                pieces = draw(st.lists(st.sampled_from(ODD_TEXT[:40]) | st.text(max_size=20), max_size=6))
                posts[-1]["text"] = " ".join(pieces + ["#FreePalestinianPrisoners #FreeThemAll"])
        elif kind == "grow":  # a post's text far over every limit, or a deep value under a known key
            if draw(st.booleans()) and isinstance(data.get("posts"), list) and data["posts"] \
                    and isinstance(data["posts"][0], dict):
                data["posts"][0]["text"] = "#FreeThemAll " + draw(st.sampled_from(["x", "🇵🇸", "a\u0301"])) * \
                    draw(st.sampled_from([300, 60_000, 200_000]))
            else:
                data[draw(st.sampled_from(KNOWN_KEYS))] = deep(draw(st.sampled_from([100, 400, 2000])),
                                                              draw(st.booleans()))
    text = toml_document(data)
    damage = draw(st.sampled_from(["none"] * 6 + ["cut", "duplicate-line", "insert"]))
    lines = text.splitlines(keepends=True)
    if damage == "cut":
        text = text[:draw(st.integers(0, len(text)))]
    elif damage == "duplicate-line" and lines:
        index = draw(st.integers(0, len(lines) - 1))
        text = "".join(lines[:index + 1] + [lines[index]] + lines[index + 1:])
    elif damage == "insert":
        index = draw(st.integers(0, len(text)))
        text = text[:index] + draw(st.sampled_from(ODD_TEXT + ["[", "]]", "=", '"', "\n[storm]\n", "\n[[posts]]\n"])) \
            + text[index:]
    return text


def _keep(value: Any) -> Any:
    """JSON has no dates: carried through the deep copy as tagged strings."""
    return {"\0date": value.isoformat(), "\0kind": type(value).__name__}


def _restore(node: Any) -> Any:
    if isinstance(node, dict):
        if "\0date" in node:
            kinds = {"datetime": datetime, "date": date, "time": time}
            return kinds[node["\0kind"]].fromisoformat(node["\0date"])
        return {key: _restore(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_restore(item) for item in node]
    return node


# --- the runs ---------------------------------------------------------------------------------------------
SAMPLE_CONFIG = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
CAMPAIGN_BASES = {path.stem: tomllib.loads(path.read_text(encoding="utf-8"))
                  for path in sorted((REPO / "campaigns").glob("*.toml"))}
CAMPAIGN_BASES["good"] = tomllib.loads(GOOD_CAMPAIGN.replace('"org-', '"network-'))
# The database is left alone: a mutated URL would have the test connect to whatever host it names.
CONFIG_BASE = {key: value for key, value in SAMPLE_CONFIG.items() if key != "database"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(REPO / "assets", root / "assets")
    (root / "campaigns").mkdir()
    shutil.copy(REPO / "config.toml", root / "config.toml")
    return root


class Hung(Exception):
    pass


@contextmanager
def watchdog(seconds: int) -> Iterator[None]:
    """Raise ``Hung`` in this (main) thread if the block runs longer than ``seconds``."""
    def alarm(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_clean(root: Path, config: Path, campaign: Path, text: str) -> None:
    for command in ("validate", "plan"):
        with watchdog(HANG):
            result = CliRunner().invoke(main, ["--config", str(config), command, str(campaign)],
                                        env={"COLUMNS": "120"})
        clean = result.exit_code in (0, 1) and (result.exception is None or isinstance(result.exception, SystemExit))
        assert clean and "Traceback" not in result.output, (
            f"`{command}` ended with {result.exception!r} (exit status {result.exit_code}) on this file:\n"
            f"{text[:3000]}\n--- output:\n{result.output[-3000:]}")
        kind = "TOML syntax error" if "TOML syntax error" in result.output else \
            "ok" if result.exit_code == 0 else "user error"
        event(f"{command}: {kind}")  # shown with --hypothesis-show-statistics


@pytest.mark.parametrize("base", sorted(CAMPAIGN_BASES))
@settings(FUZZ)
@given(data=st.data())
def test_mutated_campaign_files_end_in_a_result_or_a_user_error(project: Path, base: str, data: st.DataObject) -> None:
    text = data.draw(mutated(CAMPAIGN_BASES[base]), label="campaign file")
    campaign = project / "campaigns" / f"fuzzed-{base}.toml"
    campaign.write_text(text, encoding="utf-8")
    assert_clean(project, project / "config.toml", campaign, text)


@settings(FUZZ, max_examples=CONFIG_EXAMPLES)
@given(text=mutated(CONFIG_BASE))
def test_mutated_config_files_end_in_a_result_or_a_user_error(project: Path, text: str) -> None:
    """Each mutated config with the yearly sample campaign."""
    config = project / "fuzzed-config.toml"
    config.write_text(text, encoding="utf-8")
    assert_clean(project, config, REPO / "campaigns" / "april-17-prisoners-day.toml", text)
