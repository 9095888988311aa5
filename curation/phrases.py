"""Whole-word phrase lists: the readable form of ``claims.csv`` and ``tolerances.csv``
(``"st elevation|elevated st"``, ``|`` between alternatives, any case) and one pass that finds
every phrase of every list in a text.

A :class:`Lexicon` indexes its phrases by their first word and length; :meth:`Lexicon.scan`
splits the text into words once (remembered for the next lexicon scanning the same text) and
looks each word up, so the cost does not grow with the number of phrases. Words are runs of
letters and digits: a hyphen and a space are the same (``first-degree`` = ``first degree``), and
a phrase never matches inside a longer word.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from functools import lru_cache
from itertools import accumulate

_WORD = re.compile(r"[^\W_]+")
_SPLIT = re.compile(r"([^\W_]+)")


def words(phrase: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(phrase.lower()))


class Lexicon:
    """Named phrase lists, found together: ``Lexicon({"hedge": "may|might", ...}).scan(text)``."""

    def __init__(self, lists: dict[str, str]) -> None:
        by_length: dict[str, dict[int, dict[tuple[str, ...], list[str]]]] = defaultdict(lambda: defaultdict(dict))
        for name, spec in lists.items():
            for phrase in {words(p) for p in spec.split("|")} - {()}:
                by_length[phrase[0]][len(phrase)].setdefault(phrase, []).append(name)
        #: first word -> (phrase length, the lists of each phrase of that length)
        self._first = {w: tuple(sorted(lengths.items())) for w, lengths in by_length.items()}

    def scan(self, text: str) -> Found:
        """Every occurrence of every phrase in ``text`` (lower case), by list name: each word
        that starts a phrase is looked up once per phrase length."""
        ws, ends = _tokens(text)
        out: dict[str, list[tuple[int, int]]] = defaultdict(list)
        first = self._first
        for i in [i for i, w in enumerate(ws) if w in first]:
            for n, phrases in first[ws[i]]:
                for name in phrases.get(tuple(ws[i:i + n]), ()):
                    out[name].append((ends[2 * i], ends[2 * (i + n) - 1]))
        return Found({name: sorted(set(spans)) for name, spans in out.items()})


@lru_cache(maxsize=2)
def _tokens(text: str) -> tuple[list[str], list[int]]:
    """The words of ``text`` and the offsets around them (word i spans ``ends[2i]`` to
    ``ends[2i + 1]``); remembered for the last texts, as the checker scans one text with several
    lexicons."""
    pieces = _SPLIT.split(text)  # separator, word, separator, word, ..., separator
    return pieces[1::2], list(accumulate(map(len, pieces)))


class Found:
    """The occurrences ``(start, end)`` of each list in one text, sorted, with range queries."""

    __slots__ = ("spans",)

    def __init__(self, spans: dict[str, list[tuple[int, int]]]) -> None:
        self.spans = spans

    def within(self, name: str, lo: int, hi: int) -> list[tuple[int, int]]:
        """The occurrences of list ``name`` inside ``[lo, hi)``."""
        spans = self.spans.get(name)
        if not spans:
            return []
        out = []
        for span in spans[bisect.bisect_left(spans, (lo, -1)):]:
            if span[0] >= hi:
                break
            if span[1] <= hi:
                out.append(span)
        return out

    def any(self, name: str, lo: int, hi: int) -> bool:
        """Whether list ``name`` occurs inside ``[lo, hi)``."""
        spans = self.spans.get(name)
        if not spans:
            return False
        for a, b in spans[bisect.bisect_left(spans, (lo, -1)):]:
            if a >= hi:
                return False
            if b <= hi:
                return True
        return False
