"""What the check-in rule keeps per home: the suspicion under way and the recent ones that paged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anju.engine.localtime import INF, UNSET

if TYPE_CHECKING:
    from anju.engine.state import Home

#: Recent suspicions remembered per home (for late answers and operator outcomes), for this long:
#: the state of a home with none stays as small as before check-ins.
RECENT = 3
KEEP_S = 36 * 3600.0
# A record of a suspicion: rule, start (silence's last activity or outing's start), place cell,
# when it was asked (or found), when its high went out, and how it was decided.
RULE, START, CELL, ASKED, RAISED, VERDICT = range(6)


class Pending:
    """The suspicion being asked about (or kept until quiet hours end): what to raise if unanswered."""

    __slots__ = ("asks", "detail", "device_id", "due", "found", "key", "la", "placed", "rec", "rule")

    def __init__(self, f: dict[str, Any], la: float, rec: list[Any]) -> None:
        self.rule, self.key, self.device_id = str(f["rule"]), str(f["key"]), f.get("device_id")
        self.detail: dict[str, Any] = f.get("detail") or {}  # the finding's own: not copied
        self.found = float(f["found"])
        #: The last sign of life when it was found (any later one closes it), the call (UNSET: not
        #: yet placed), and when it is due: the deadline, or when a kept suspicion is called about.
        self.la, self.placed, self.due = la, UNSET, INF
        self.rec = rec
        #: Calls placed about this suspicion (a re-ask after an ``ok`` is one more).
        self.asks = int(f.get("asks", 0))

    def to_json(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__ if s != "rec"}


class CheckinState:
    """The check-in under way and the recent suspicions (None until the home has had one)."""

    checkin_book: Any = None


class Book:
    __slots__ = ("pending", "recent")

    def __init__(self) -> None:
        self.pending: Pending | None = None
        self.recent: list[list[Any]] = []


def settle(home: Home) -> None:
    """Keep only what an answer or an outcome may still need: the suspicion under way and those
    that paged someone (a home with neither keeps no check-in state at all)."""
    book: Book | None = home.states.checkin_book
    if book is None:
        return
    pend = book.pending
    book.recent = [r for r in book.recent if r[RAISED] > 0 or (pend is not None and r is pend.rec)]
    if pend is None and not book.recent:
        home.states.checkin_book = None
