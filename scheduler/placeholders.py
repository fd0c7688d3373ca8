"""Placeholders in a post's text: ``{when}``, ``{hashtags}``, ``{countdown}``; ``{{`` and ``}}`` are braces.

The syntax is Python's format-string syntax as ``string.Formatter`` parses it, with every feature beyond a
bare name refused in words a person can act on (``{}``, ``{0}``, ``{when!r}``, ``{when:>9}``, a lone brace).
What each placeholder stands for is decided by the planner; this module only checks and fills templates.
"""

from __future__ import annotations

from string import Formatter
from typing import Mapping

#: Every placeholder, and what it becomes.
PLACEHOLDERS = {
    "when": "the storm's date and time in every announced zone, in the post's language",
    "hashtags": "the campaign's hashtags",
    "countdown": "how long until the storm (\"in 1 hour\"), for a post with a negative `at`",
}
#: The placeholders whose text depends on the language.
IN_LANGUAGE = frozenset({"when", "countdown"})
_BRACES = "write {{ or }} for a brace itself"


def known(allowed: tuple[str, ...] = tuple(PLACEHOLDERS)) -> str:
    """'{when}, {hashtags} and {countdown}'."""
    names = [f"{{{name}}}" for name in allowed]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def template_problem(text: str, allowed: tuple[str, ...] = tuple(PLACEHOLDERS)) -> str | None:
    """Why ``text`` is not a usable template with the placeholders ``allowed``, or None."""
    try:
        parts = list(Formatter().parse(text))
    except ValueError as error:
        brace = "'}'" if "'}'" in str(error) and "expected" not in str(error) else "'{'"
        return (f"a {brace} that opens or closes no placeholder; {_BRACES}, or name a placeholder: "
                f"{known(allowed)}")
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name not in allowed:
            what = ("a placeholder without a name" if not name else f"{written} cannot be used here"
                    if name in PLACEHOLDERS else f"unknown placeholder {written}")
            return f"{what}; the placeholders here are {known(allowed)}; {_BRACES}"
        if conversion or spec:
            return (f"{written}: a placeholder takes no conversion or format here; write {{{name}}}, or "
                    f"{_BRACES}")
    return None


def names_in(text: str) -> set[str]:
    """The placeholders ``text`` uses (a text with a syntax problem: none)."""
    try:
        return {name for _literal, name, _spec, _conversion in Formatter().parse(text) if name}
    except ValueError:
        return set()


def render(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each placeholder replaced by its value and ``{{``/``}}`` by a brace. A text that
    ``template_problem`` refuses is given back as it is (validation reports it)."""
    if "{" not in text and "}" not in text:
        return text
    try:
        parts = list(Formatter().parse(text))
    except ValueError:
        return text
    return "".join(literal + (values.get(name, "{" + name + "}") if name is not None else "")
                   for literal, name, _spec, _conversion in parts)
