"""The live position of an id cursor (``produce --follow``): what was sent above the low-water mark.

A plain offset ``last_id`` says "every row up to here is sent or gone". To send committed rows at
once while a slower transaction that took a lower id is still open, the position also keeps what
was sent above it: ``upto`` (every id up to it was looked at) and ``holes``, the ids in
``(last_id, upto]`` that were not sent (taken by a transaction still open, rolled back, or never
used). The rows sent above ``last_id`` are exactly ``(last_id, upto]`` minus the holes. Each round
reads the holes and ``(upto, L]`` (L: the high-water mark), so a slow transaction's rows are sent
when it commits, and nothing is sent twice.

``last_id`` moves up to a checkpoint L once every transaction that was writing when L was read has
ended *and* a read made after that covered the holes up to L (then no id up to L can still commit).
The holes are stored as ranges (``"1-4,9,12-15"``) in producer_offsets.holes, ``upto`` in
producer_offsets.sent_upto: a SIGKILL anywhere restarts from the last committed batch's position.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass
class LivePosition:
    last_id: int  # the low-water mark: every row up to it is sent or gone
    upto: int  # every id up to it was read; the sent rows above last_id are (last_id, upto] minus holes
    holes: list[list[int]] = field(default_factory=list)  # sorted, disjoint [lo, hi] (inclusive) ranges

    @classmethod
    def parse(cls, last_id: int, upto: int | None, text: str | None) -> LivePosition:
        holes = []
        for part in (text or "").split(","):
            if part:
                lo, _, hi = part.partition("-")
                holes.append([int(lo), int(hi or lo)])
        return cls(last_id, max(last_id, upto or last_id), holes)

    def text(self) -> str:
        return ",".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in self.holes)

    def copy(self) -> LivePosition:
        return LivePosition(self.last_id, self.upto, [list(h) for h in self.holes])

    @property
    def clean(self) -> bool:
        """Nothing sent above last_id: a plain offset."""
        return self.upto == self.last_id and not self.holes

    def ranges(self, level: int) -> list[tuple[int, int]]:
        """What is not sent up to ``level``, as id ranges ``(after, upto]`` in id order: the holes, then above ``upto``."""
        holes = [(max(lo - 1, self.last_id), min(hi, level)) for lo, hi in self.holes if hi > self.last_id and lo <= level]
        return holes + ([(self.upto, level)] if level > self.upto else [])

    def bounds(self) -> tuple[list[int], list[int]]:
        """The holes as two arrays (lows, highs) for the query."""
        return [h[0] for h in self.holes], [h[1] for h in self.holes]

    def sent(self, ids: list[int]) -> None:
        """Rows read and sent, in id order: holes they fill close, gaps above ``upto`` open."""
        for i in ids:
            if i <= self.upto:
                self._fill(i)
            else:
                if i > self.upto + 1:
                    self.holes.append([self.upto + 1, i - 1])
                self.upto = i

    def _fill(self, i: int) -> None:
        k = bisect.bisect_right(self.holes, [i, 2**63]) - 1
        if k < 0 or not (self.holes[k][0] <= i <= self.holes[k][1]):
            return  # not a hole: at or below last_id, or already sent (not expected)
        lo, hi = self.holes[k]
        parts = [p for p in ([lo, i - 1], [i + 1, hi]) if p[0] <= p[1]]
        self.holes[k : k + 1] = parts

    def read_to(self, level: int) -> None:
        """A read of everything up to ``level`` is sent: the ids above ``upto`` not read are holes."""
        if level > self.upto:
            self.holes.append([self.upto + 1, level])
            self.upto = level

    def settle_to(self, level: int) -> None:
        """No id up to ``level`` can still commit and a read after that covered it: last_id moves there."""
        if level <= self.last_id:
            return
        self.last_id = level
        self.upto = max(self.upto, level)
        self.holes = [[max(lo, level + 1), hi] for lo, hi in self.holes if hi > level]
