"""Whole-word phrase lists: the readable form of ``claims.csv`` and ``tolerances.csv``
(``"st elevation|elevated st"``, ``|`` between alternatives, any case) and one pass that finds
every phrase of every list in a text.

A :class:`Lexicon` indexes its phrases by their first word; :meth:`Lexicon.scan` splits the text
into words once and looks each word up, so the cost does not grow with the number of phrases
(the checker reads thousands of responses per second on one core). Words are runs of letters
and digits: a hyphen and a space are the same (``first-degree`` = ``first degree``), and a
phrase never matches inside a longer word.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from itertools import accumulate

_WORD = re.compile(r"[^\W_]+")
_SPLIT = re.compile(r"([^\W_]+)")


def words(phrase: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(phrase.lower()))


class Lexicon:
    """Named phrase lists, found together: ``Lexicon({"hedge": "may|might", ...}).scan(text)``."""

    def __init__(self, lists: dict[str, str]) -> None:
        self._first: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        for name, spec in lists.items():
            for phrase in {words(p) for p in spec.split("|")} - {()}:
                self._first[phrase[0]].append((phrase, name))

    def scan(self, text: str) -> Found:
        """Every occurrence of every phrase in ``text`` (lower case), by list name."""
        pieces = _SPLIT.split(text)  # separator, word, separator, word, ..., separator
        ws = pieces[1::2]
        ends = list(accumulate(map(len, pieces)))  # word i spans ends[2i] to ends[2i + 1]
        out: dict[str, list[tuple[int, int]]] = defaultdict(list)
        first = self._first
        for i, w in enumerate(ws):
            for phrase, name in first.get(w, ()):
                n = len(phrase)
                if n == 1 or tuple(ws[i:i + n]) == phrase:
                    out[name].append((ends[2 * i], ends[2 * (i + n) - 1]))
        return Found({name: sorted(set(spans)) for name, spans in out.items()})


class Found:
    """The occurrences ``(start, end)`` of each list in one text, sorted, with range queries."""

    __slots__ = ("spans",)

    def __init__(self, spans: dict[str, list[tuple[int, int]]]) -> None:
        self.spans = spans

    def within(self, name: str, lo: int, hi: int) -> list[tuple[int, int]]:
        """The occurrences of list ``name`` inside ``[lo, hi)``."""
        spans = self.spans.get(name, ())
        i = bisect.bisect_left(spans, (lo, -1))
        out = []
        while i < len(spans) and spans[i][0] < hi:
            if spans[i][1] <= hi:
                out.append(spans[i])
            i += 1
        return out

    def any(self, name: str, lo: int, hi: int) -> bool:
        return bool(self.within(name, lo, hi))

    def last_before(self, name: str, lo: int, hi: int) -> tuple[int, int] | None:
        """The occurrence ending last at or before ``hi`` and starting at or after ``lo``
        (the longer one on a tie)."""
        found = self.within(name, lo, hi)
        return max(found, key=lambda s: (s[1], s[1] - s[0])) if found else None
