"""The near-duplicate pairing of X texts (checks._alike_in_length, a set-similarity join with prefix filtering)
against comparing every pair, on 1,000 texts of 30 words drawn from a 5,000-word vocabulary (texts that differ
in their words, as a network's sample posts do). Prints the time and candidate pairs of each, twice, interleaved.

    python benchmarks/near_duplicates.py
"""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import cpu_model  # noqa: E402
from scheduler import checks  # noqa: E402
from scheduler.checks import _Copy, _lengths_allow, _may_be_alike  # noqa: E402

Pairs = Callable[[list[_Copy]], Iterator[tuple[_Copy, _Copy]]]


def texts(count: int = 1000, words: int = 30, vocabulary: int = 5000) -> list[_Copy]:
    chooser = random.Random(7)
    vocab = ["".join(chooser.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(chooser.randint(3, 9)))
             for _ in range(vocabulary)]
    when = datetime(2030, 1, 1, tzinfo=timezone.utc)
    return [_Copy(0, "c", "c.toml", f"p{i}", f"a{i}", "x", when, " ".join(chooser.choice(vocab) for _ in range(words)))
            for i in range(count)]


def every_pair(copies: list[_Copy]) -> Iterator[tuple[_Copy, _Copy]]:
    """The pairing before the join: every pair whose lengths allow them to be alike."""
    ordered = sorted(copies, key=lambda c: len(c.normal))
    for index, first in enumerate(ordered):
        for second in ordered[index + 1:]:
            if not _lengths_allow(first, second):
                break
            yield first, second


def measure(pairs: Pairs, copies: list[_Copy]) -> tuple[float, int, int]:
    started = time.perf_counter()
    candidates = list(pairs(copies))
    alike = sum(1 for first, second in candidates if _may_be_alike(first.shingles, second.shingles))
    return time.perf_counter() - started, len(candidates), alike


def main() -> None:
    copies = texts()
    for copy in copies:  # shingles made once, outside the timing
        _ = copy.shingles
    print(f"CPU: {cpu_model()}; 1,000 texts")
    for name, pairs in (("join", checks._alike_in_length), ("every pair", every_pair)) * 2:
        seconds, candidates, alike = measure(pairs, copies)
        print(f"{name:<11} {seconds:6.2f} s  {candidates:>7,} candidate pairs  {alike} past the shingle test")


if __name__ == "__main__":
    main()
