"""A campaign's ``[craft]`` table: which storm craft rules (``craft.py``) warn, fail or stay quiet, the pace
each account keeps, the storm's window and the hashtags already public. Part of the campaign file's format,
kept apart so the file format does not import the planner."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .timing import parse_duration

Rule = Literal["early_hashtag", "pacing", "variety", "window", "hours", "shape", "freshness"]
RULES: tuple[Rule, ...] = ("early_hashtag", "pacing", "variety", "window", "hours", "shape", "freshness")
Level = Literal["warn", "error", "off"]

#: Why each rule exists, in one line (the README's "Storm craft" says the same).
REASONS: dict[Rule, str] = {
    "early_hashtag": "a hashtag used before the storm can be kept off the trending list",
    "pacing": "accounts posting faster than a person would are taken for spam",
    "variety": "one text repeated looks like a bot network; different words and angles travel further",
    "window": "trending follows how fast a hashtag's use grows: a short, dense storm counts more",
    "hours": "people are asleep between midnight and 7 am",
    "shape": "a hashtag spelled otherwise is another hashtag: it splits the storm in two",
    "freshness": "a hashtag already in use (perhaps with another intent) is harder to make trend",
}
class Pacing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    per_minute: int = Field(default=5, ge=1)
    per_hour: int = Field(default=15, ge=1)


class CraftDefaults(BaseModel):
    """config.toml's ``[craft]``: the pace, window and rule levels of every campaign that does not set its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pacing: Pacing = Field(default_factory=Pacing)
    window: timedelta = timedelta(hours=2)
    rules: dict[str, Level] = Field(default_factory=dict)     # rule -> "warn" | "error" | "off"

    _window = field_validator("window", mode="before")(lambda value: parse_duration(value))

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, value: dict[str, Level]) -> dict[str, Level]:
        unknown = [name for name in value if name not in RULES]
        if unknown:
            raise ValueError(f"{', '.join(repr(name) for name in unknown)} is not a storm craft rule; the rules "
                             f"are {', '.join(RULES)}")
        return value


class CraftSettings(CraftDefaults):
    """A campaign's ``[craft]`` table: config.toml's ``[craft]`` fills what it leaves out (``with_defaults``)."""

    public_hashtags: list[str] = Field(default_factory=list)  # already public: reminders may carry them

    def with_defaults(self, defaults: CraftDefaults) -> "CraftSettings":
        """These settings, with ``defaults`` where the campaign sets nothing (a rule level at a time)."""
        update: dict[str, object] = {name: getattr(defaults, name) for name in ("pacing", "window")
                                     if name not in self.model_fields_set}
        update["rules"] = {**defaults.rules, **self.rules}
        return self.model_copy(update=update)

    def level(self, rule: Rule) -> Level:
        return self.rules.get(rule, "warn")
