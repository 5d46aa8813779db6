"""``checkin``: ask the resident before anyone is paged (CONTRACT.md sections 2 and 6).

A suspicion -- a ``high`` finding of one of ``checkin.rules`` (the silence rules and
``not_returned``: their evidence is never certain) -- is handed to this rule by the core instead of
paging. It raises a ``checkin`` finding (``at``: when the call is placed; ``detail.window_s``) and
keeps the suspicion pending until ``at + window_s``:

- a sign of life after the one the suspicion was about closes it, and nothing is raised;
- ``checkin ok`` closes the call and teaches the home that this silence or outing was ordinary; if
  the silence (or the outing) still goes on ``reask`` later, the resident is asked again (fine when
  called, maybe fallen since), and so on until a sign of life;
- ``checkin help`` raises the rule's finding as ``critical`` at once;
- ``no_answer``, or nothing by the deadline, raises the rule's own ``high`` finding with the key it
  has without check-ins, its evidence saying the check-in went unanswered.

Quiet hours (``quiet_from``-``quiet_until``, local): with ``quiet_calls = "strong"`` a suspicion
there is called about only when the evidence is strong enough to wake someone: the resident is
out (``not_returned``), or the silence began somewhere people do not sleep or doze (not one of
``quiet_weak_places``, bedroom and living room: a silence after the kitchen or the bathroom at
night is no sleep), or it has reached its day part's ``max``, which no learned routine allows. A
weak one is kept, silently watched, and called about when it becomes strong or when quiet hours
end, unless a sign of life comes first.
``opt_out`` (a household whose resident cannot answer): the ``high`` goes out at once, as without
check-ins. The silence or outing of a ``high`` that went out is not learned from when it ends
(``Home.hold``) until an outcome says it was ordinary (``Engine.learn_outcome``); an outcome of
``taken_to_hospital``, ``assisted_at_home`` or ``deceased`` never loosens a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from anju.domain import CheckinAnswer, Severity
from anju.domain import Rule as RuleName
from anju.engine.fields import parse_clock, parse_duration, parse_parts
from anju.engine.learn import LOCATIONS
from anju.engine.localtime import INF, NAN, UNSET, iso, local, next_local
from anju.engine.model import Finding
from anju.engine.rules.base import Omissible, Out, Rule, Sections, finding
from anju.engine.rules.checkin_book import (
    ASKED,
    CELL,
    KEEP_S,
    RAISED,
    RECENT,
    RULE,
    START,
    VERDICT,
    Book,
    CheckinState,
    Pending,
    settle,
)
from anju.engine.rules.silence import compile_silence

if TYPE_CHECKING:
    from anju.engine.pack import RulePack
    from anju.engine.state import Home

#: Rules whose high findings may be put to the resident first (``button`` never: critical at once).
ASKABLE = ("inactivity", "no_morning_activity", "not_returned", "night_door")
#: Operator outcomes that say the suspicion was ordinary, and those that never loosen anything.
ORDINARY = frozenset({"false_alarm", "resident_well"})
SERIOUS = frozenset({"taken_to_hospital", "assisted_at_home", "deceased"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckinParams:
    enabled: bool
    opt_out: bool
    window: int
    rules: frozenset[str]
    quiet_from: int
    quiet_until: int
    strong_only: bool
    reask: int
    #: Location classes where a silence in quiet hours is taken for sleep (weak evidence).
    weak_places: frozenset[int]

    def quiet(self, minute: int) -> bool:
        if self.quiet_from <= self.quiet_until:
            return self.quiet_from <= minute < self.quiet_until
        return minute >= self.quiet_from or minute < self.quiet_until


class CheckIn(Rule):
    name = "checkin"
    sections: ClassVar[Sections] = {
        "checkin": {
            "enabled": "bool",
            "opt_out": "bool",
            "window": "duration",
            "rules": "list:" + ",".join(ASKABLE),
            "quiet_from": "clock",
            "quiet_until": "clock",
            "quiet_calls": "choice:strong,always",
            "reask": "duration",
            "quiet_weak_places": "list:" + ",".join(LOCATIONS),
        }
    }
    optional: ClassVar[Omissible] = {
        "checkin": frozenset(
            {
                "enabled",
                "opt_out",
                "window",
                "rules",
                "quiet_from",
                "quiet_until",
                "quiet_calls",
                "reask",
                "quiet_weak_places",
            }
        )
    }
    state = CheckinState

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        ci = pack.section("checkin")
        self.p = CheckinParams(
            enabled=bool(ci.get("enabled", False)),
            opt_out=bool(ci.get("opt_out", False)),
            window=parse_duration(ci.get("window", "10m"), "checkin.window"),
            rules=frozenset(ci.get("rules", ASKABLE[:3])),
            quiet_from=parse_clock(ci.get("quiet_from", "23:00"), "checkin.quiet_from"),
            quiet_until=parse_clock(ci.get("quiet_until", "06:00"), "checkin.quiet_until"),
            strong_only=ci.get("quiet_calls", "strong") == "strong",
            reask=parse_duration(ci.get("reask", "4h"), "checkin.reask"),
            weak_places=frozenset(
                LOCATIONS.index(x) for x in ci.get("quiet_weak_places", ["bedroom", "living"])
            ),
        )
        self.active = self.p.enabled
        self.silence = compile_silence(pack)
        nr = pack.section("not_returned")
        self.away_max = parse_parts(nr.get("max", nr["threshold"]), "not_returned.max")

    # ---- snapshots -----------------------------------------------------------------------------

    def dump(self, home: Home) -> dict[str, Any]:
        book: Book | None = home.states.checkin_book
        if book is None:
            return {}
        pend = book.pending
        return {"pending": pend.to_json() if pend else None, "recent": [list(r) for r in book.recent]}

    def load(self, data: dict[str, Any], home: Home) -> None:
        if not data:
            return
        book = Book()
        book.recent = [list(r) for r in data.get("recent") or ()][-RECENT:]
        pend = data.get("pending")
        if pend:
            rec = next((r for r in book.recent if r[RULE] == pend["rule"] and r[VERDICT] == "asked"), None)
            if rec is None:
                rec = [pend["rule"], float(pend["la"]), -1, UNSET, UNSET, "asked"]
                book.recent.append(rec)
            p = Pending(pend, float(pend["la"]), rec)
            p.placed, p.due = float(pend["placed"]), float(pend["due"])
            book.pending = p
        home.states.checkin_book = book

    def load_legacy(self, data: dict[str, Any], home: Home) -> None:
        """Version 3 snapshots predate check-ins: none under way."""

    def day_started(self, home: Home, t: float, *, first: bool) -> None:
        """Suspicions older than ``KEEP_S`` are forgotten (an outcome for one is then not known)."""
        book: Book | None = home.states.checkin_book
        if book is None:
            return
        pend = book.pending
        book.recent = [
            r
            for r in book.recent
            if max(r[ASKED], r[RAISED]) > t - KEEP_S or (pend is not None and r is pend.rec)
        ]
        settle(home)

    # ---- the suspicion -------------------------------------------------------------------------

    def gate(self, home: Home, out: Out, n: int, due: float) -> None:
        """Findings ``out[n:]`` were just raised at ``due``: put the askable ones to the resident."""
        p = self.p
        i = n
        while i < len(out):
            f = out[i]
            if f.rule.value not in p.rules or f.severity is not Severity.HIGH or "checkin" in f.detail:
                i += 1
                continue
            book = self._book(home)
            outing = f.rule is RuleName.NOT_RETURNED
            start = home.away if outing else home.last_activity
            rec: list[Any] = [f.rule.value, start, -1 if outing else home.last_cell, due, UNSET, "asked"]
            book.recent = [*book.recent[-(RECENT - 1) :], rec]
            pend = book.pending
            if p.opt_out or (pend is not None and pend.placed > 0 and not self._moot(home, pend)):
                # Opted out; or one call at a time: a second suspicion while one is asked pages now.
                rec[RAISED], rec[VERDICT] = due, "opted_out" if p.opt_out else "unanswered"
                home.hold = start
                i += 1
                continue
            facts = {"rule": f.rule.value, "key": f.key, "device_id": f.device_id, "detail": f.detail}
            pend = book.pending = Pending({**facts, "found": due}, home.last_activity, rec)
            asked = self._place(home, pend, due)
            if asked is None:
                del out[i]
                continue
            out[i] = asked
            i += 1
        settle(home)

    def _place(self, home: Home, pend: Pending, t: float) -> Finding | None:
        """Call now; or, in quiet hours, keep it until the evidence is strong or quiet hours end."""
        p = self.p
        m = local(home.tz, t)
        if p.strong_only and p.quiet(m.hour * 60 + m.minute):
            strong = self._strong_at(home, RuleName(pend.rule), pend.rec[START], pend.rec[CELL])
            if t < strong:
                # Not worth waking the resident yet: watched until it is, or quiet hours end.
                pend.placed, pend.due = UNSET, min(strong, next_local(home.tz, t, p.quiet_until))
                return None
        return self._ask(home, pend, t)

    def _strong_at(self, home: Home, rule: RuleName, start: float, cell: int) -> float:
        """When the evidence is strong enough to wake someone (UNSET: it is already)."""
        if rule in (RuleName.NOT_RETURNED, RuleName.NIGHT_DOOR):
            return UNSET  # out at night: nobody is woken who is not up already
        if cell >= 0 and cell // 24 not in self.p.weak_places:
            return UNSET  # silent at night somewhere that is no bed
        return start + self.silence.cap(home, start)[0]  # the day part's max: past any sleep

    @staticmethod
    def _book(home: Home) -> Book:
        book: Book | None = home.states.checkin_book
        if book is None:
            book = home.states.checkin_book = Book()
        return book

    @staticmethod
    def _moot(home: Home, pend: Pending) -> bool:
        """A sign of life came after the one the suspicion was about."""
        return home.last_activity > pend.la

    def _ask(self, home: Home, pend: Pending, t: float) -> Finding:
        pend.placed, pend.due = t, t + self.p.window
        pend.rec[ASKED] = t
        pend.asks += 1
        key = f"checkin:{pend.key}" if pend.asks == 1 else f"checkin:{pend.key}#{pend.asks}"
        detail = {
            "rule": pend.rule,
            "window_s": self.p.window,
            "suspicion_key": pend.key,
            "suspected_at": iso(pend.found),
            "local_time": local(home.tz, t).strftime("%H:%M"),
            "evidence": pend.detail,
        }
        if pend.asks > 1:
            detail["asked_again"] = pend.asks - 1  # it answered ok before, and nothing moved since
        return finding(home, RuleName.CHECKIN, t, key, pend.device_id, detail)

    # ---- timers --------------------------------------------------------------------------------

    def next_due(self, home: Home) -> float:
        book: Book | None = home.states.checkin_book
        pend = book.pending if book is not None else None
        return pend.due if pend is not None else INF

    def fire(self, home: Home, due: float, out: Out) -> bool:
        book: Book | None = home.states.checkin_book
        pend = book.pending if book is not None else None
        if book is None or pend is None or due != pend.due:
            return False
        if self._moot(home, pend):
            book.pending = None
            pend.rec[VERDICT] = "sign_of_life"
            settle(home)
        elif pend.placed <= 0:
            asked = self._place(home, pend, due)
            if asked is not None:
                out.append(asked)
        else:
            self._raise(home, book, pend, due, "unanswered", Severity.HIGH, out)
        return True

    def _raise(
        self, home: Home, book: Book, pend: Pending, t: float, how: str, severity: Severity, out: Out
    ) -> None:
        book.pending = None
        pend.rec[RAISED], pend.rec[VERDICT] = t, how
        home.hold = pend.rec[START]
        said = {
            "unanswered": "no answer and no sign of life within the window",
            "no_answer": "every call attempt went unanswered",
            "help": "the resident asked for help",
        }[how]
        detail = {
            **pend.detail,
            "checkin": {
                "placed_at": iso(pend.placed),
                "window_s": self.p.window,
                "answer": how,
                "said": said,
            },
        }
        key = pend.key if severity is Severity.HIGH else f"help:{pend.key}"
        f = finding(home, RuleName(pend.rule), t, key, pend.device_id, detail)
        out.append(f if severity is Severity.HIGH else replace(f, severity=severity))

    # ---- answers and outcomes ------------------------------------------------------------------

    def answer(self, home: Home, answer: CheckinAnswer, t: float, out: Out) -> None:
        """The resident's answer at ``t`` (a ``type=checkin`` row)."""
        book: Book | None = home.states.checkin_book
        if book is None:
            book = Book()  # a help with no check-in on record is still help (nothing is kept)
        pend = book.pending
        if pend is not None and pend.placed > 0:
            if answer is CheckinAnswer.OK:
                pend.rec[VERDICT] = "ok"
                self._teach(home, pend.rec, t)
                # Kept: asked again if nothing has moved ``reask`` from now.
                pend.placed, pend.due = UNSET, t + self.p.reask
                pend.rec[VERDICT] = "asked"
            elif answer is CheckinAnswer.HELP:
                self._raise(home, book, pend, t, "help", Severity.CRITICAL, out)
            else:
                self._raise(home, book, pend, t, "no_answer", Severity.HIGH, out)
            settle(home)
            return
        last = book.recent[-1] if book.recent else None
        if answer is CheckinAnswer.HELP:
            # No call under way (a late SMS reply, say): help is help.
            rule = RuleName(last[RULE]) if last is not None else RuleName.CHECKIN
            detail = {"checkin": {"answer": "help", "said": "the resident asked for help"}}
            out.append(
                replace(finding(home, rule, t, f"help@{iso(t)}", None, detail), severity=Severity.CRITICAL)
            )
        elif answer is CheckinAnswer.OK and last is not None and last[VERDICT] in ("unanswered", "no_answer"):
            last[VERDICT] = "ok_late"  # the page went out; the resident is well after all
            self._teach(home, last, last[RAISED])

    def outcome(self, home: Home, rule: str, at: float, outcome: str) -> bool:
        """An operator's outcome for the finding of ``rule`` raised at ``at``; False if unknown."""
        book: Book | None = home.states.checkin_book
        for rec in reversed(book.recent if book is not None else []):
            if rec[RULE] != rule or min(abs(rec[ASKED] - at), abs(rec[RAISED] - at)) > 1e-3:
                continue
            if outcome in SERIOUS:
                rec[VERDICT] = "serious"
            elif outcome in ORDINARY and rec[VERDICT] != "serious":
                rec[VERDICT] = "ordinary"
                self._teach(home, rec, rec[RAISED] if rec[RAISED] > 0 else at)
            return True
        return False

    @staticmethod
    def _teach(home: Home, rec: list[Any], until: float) -> None:
        """The suspicion was ordinary: this silence (place, hour) or outing is allowed from now on."""
        start = float(rec[START])
        if home.hold == start:
            home.hold = UNSET  # learned as it ends, like any other
        prof = home.profile
        if prof is None or rec[VERDICT] == "serious" or until <= start:
            return
        if rec[RULE] == RuleName.NOT_RETURNED.value:
            m = local(home.tz, start)
            prof.teach_outing(m.hour * 60 + m.minute, (until - start) / 60.0, home.params, at_night=False)
        elif rec[CELL] >= 0:
            prof.teach_silence(int(rec[CELL]), until - start, home.params)
        home.states.inact_for = NAN  # the silence's deadline may have moved
