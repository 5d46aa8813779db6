"""What every rule module is: the interface the core schedules through, and a compiled configuration.

A rule (or a close family of rules) owns one or more pack sections, compiles them into its own
parameters, keeps its own fields of each home's state (``home.states``, with its own
snapshot form) and is told about observations, asked when it is next due and fired. The core keeps
the one timer heap, the homes, the signs of life and the days, and calls only the hooks a rule
defines (the defaults here do nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from anju.domain import RULE_SEVERITY, CheckinAnswer, DeviceKind, EventName
from anju.domain import Rule as RuleName
from anju.engine.fields import Schema
from anju.engine.localtime import INF
from anju.engine.model import Finding
from anju.engine.state import dump_fields, load_fields
from anju.kinds import ENDS_AWAY

if TYPE_CHECKING:
    from anju.engine.pack import RulePack
    from anju.engine.params import Params
    from anju.engine.state import Dev, Home

Out = list[Finding]
T = TypeVar("T")
#: The pack sections a rule owns and the settings of each a pack may omit.
Sections = dict[str, Schema]
Omissible = dict[str, frozenset[str]]


class Rule:
    """One rule or family: its sections, parameters and state slice, behind a few hooks.

    The interface is three calls: ``feed`` (an observation of the events the rule names; battery
    readings, device liveness and homecoming have hooks of their own so the hot path calls no rule
    that does not care), ``next_due`` and ``fire``. The rest are lifecycle hooks (configuration,
    forgotten devices, the day's end and start, snapshots) that most rules leave as they are.
    """

    #: Key of the rule's state slice and of its part of a snapshot.
    name: ClassVar[str]
    #: The pack sections the rule owns, their settings' kinds, and the settings a pack may omit.
    sections: ClassVar[Sections] = {}
    optional: ClassVar[Omissible] = {}
    #: Events the rule judges as they arrive, before the core checks they are not late.
    instant: ClassVar[frozenset[EventName]] = frozenset()
    #: Signs of life the rule is told about (not late ones), before the core counts them (motion:
    #: only through ``came_home``).
    events: ClassVar[frozenset[EventName]] = frozenset()
    #: The rule's slice of a home's state: a class whose annotated attributes, with their
    #: defaults, are the rule's fields (the core keeps every rule's fields in one slotted object
    #: per home, ``home.states``; a rule reads it through its own class: ``st: AwayState = home.states``).
    state: ClassVar[type | None] = None
    _wake: Callable[[Home, float], None]

    def __init__(self, pack: RulePack, overrides: Mapping[str, Any]) -> None:
        """Compile the rule's sections of ``pack`` (a household's ``overrides`` already merged in)."""

    def bind(self, wake: Callable[[Home, float], None]) -> None:
        """The core's timer heap: ``wake(home, due)`` makes sure the home is run by ``due``."""
        self._wake = wake

    def touch(self, home: Home, due: float) -> None:
        """Wake the home at ``due`` (a timer that starts between the core's own wake-ups)."""
        self._wake(home, due)

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The names of the rule's fields in a home's state (``state``'s annotated attributes)."""
        return tuple(cls.state.__annotations__) if cls.state is not None else ()

    def dump(self, home: Home) -> dict[str, Any]:
        """The rule's slice of the home's state as JSON."""
        return dump_fields(home.states, self.fields())

    def load(self, data: dict[str, Any], home: Home) -> None:
        """The slice from ``dump``'s form; fields absent from ``data`` are kept."""
        load_fields(home.states, data, self.fields())

    def load_legacy(self, data: dict[str, Any], home: Home) -> None:
        """The slice from a version 3 snapshot (one flat table of every rule's fields)."""
        self.load(data, home)

    def feed(
        self, home: Home, dev: Dev, device_id: str, kind: DeviceKind, event: EventName, t: float, out: Out
    ) -> None:
        """An event of ``instant`` or ``events`` arrived."""

    def came_home(self, home: Home, t: float) -> None:
        """Motion indoors at ``t`` while the resident was leaving or away: home again."""

    def reading(self, home: Home, dev: Dev, device_id: str, battery: int, t: float, out: Out) -> None:
        """A message carried a battery reading."""

    def heard(self, home: Home, dev: Dev, device_id: str, event: EventName, t: float) -> None:
        """Any message from a device that sends heartbeats."""

    def next_due(self, home: Home) -> float:
        """The earliest instant the rule must be fired at (INF: none); may be early, never late."""
        return INF

    def fire(self, home: Home, due: float, out: Out) -> bool:
        """Fire what is due at ``due`` (the earliest due of the home); False if none of it is this rule's."""
        return False

    def after_life(self) -> float:
        """The soonest the rule can be due after a sign of life (the core wakes the home then)."""
        return INF

    def reconfigured(self, home: Home) -> None:
        """The home's devices, time zone or parameters were just set again."""

    def forget(self, home: Home, device_ids: set[str]) -> None:
        """These devices were removed or replaced: their state goes."""

    def end_day(self, home: Home, due: float, out: Out) -> None:
        """The activity day ends at ``due``: judge it (before the routine learns from it)."""

    def day_started(self, home: Home, t: float, *, first: bool) -> None:
        """A new activity day began at ``t`` (``first``: monitoring began; else after learning)."""

    def judges_days(self) -> bool:
        """Whether the rule judges whole days (the core then ends days even while learning is off)."""
        return False

    def offline_devices(self, home: Home) -> list[str]:
        """Devices the rule currently holds offline (the home's monitoring is degraded)."""
        return []

    #: Whether the rule's ``gate`` is in force (the check-in rule of a pack that enables it).
    active: bool = False

    def gate(self, home: Home, out: Out, n: int, due: float) -> None:
        """Findings ``out[n:]`` were just raised by a timer at ``due``: the rule may replace them."""

    def answer(self, home: Home, answer: CheckinAnswer, t: float, out: Out) -> None:
        """The resident answered a check-in at ``t``."""

    def outcome(self, home: Home, rule: str, at: float, outcome: str) -> bool:
        """An operator's outcome for the finding of ``rule`` raised at ``at``; True if it was known."""
        return False


def finding(
    home: Home, rule: RuleName, t: float, key: str, device_id: str | None, detail: dict[str, Any]
) -> Finding:
    return Finding(
        household_id=home.hid,
        rule=rule,
        severity=RULE_SEVERITY[rule],
        at=datetime.fromtimestamp(t, UTC),
        key=key,
        device_id=device_id,
        detail=detail,
    )


def forget_configured(state: dict[str, T] | None, home: Home) -> dict[str, T]:
    """A per-device table without the entries of the home's configured devices (a snapshot is
    loaded over them)."""
    return {d: v for d, v in (state or {}).items() if d not in home.devices}


Feed = Callable[["Home", "Dev", str, DeviceKind, EventName, float, Out], None]


@dataclass(frozen=True, slots=True)
class Route:
    """Who is told about one kind of event: judged at once, then (if it is a sign of life) in order."""

    instant: tuple[Feed, ...]
    life: bool
    state: tuple[Feed, ...]
    #: A sign of life that ends "away" (the kind table's ``ends_away``): handled as motion is.
    ends_away: bool = False


def _defines(rule: Rule, hook: str) -> bool:
    return getattr(type(rule), hook) is not getattr(Rule, hook)


@dataclass(frozen=True, slots=True)
class Config:
    """A pack compiled for homes with the same overrides: the core's parameters and the rules."""

    params: Params
    rules: tuple[Rule, ...]
    routes: dict[EventName, Route]
    dues: tuple[Callable[[Home], float], ...]
    fires: tuple[Callable[[Home, float, Out], bool], ...]
    homecomers: tuple[Callable[[Home, float], None], ...]
    readings: tuple[Callable[[Home, Dev, str, int, float, Out], None], ...]
    hearers: tuple[Callable[[Home, Dev, str, EventName, float], None], ...]
    #: The soonest any rule can be due after a sign of life.
    life_floor: float
    #: Every rule's fields of a home's state: the class of ``home.states``, and its defaults.
    states: type
    defaults: tuple[tuple[str, Any], ...]
    #: Whether any rule judges whole days.
    judge_days: bool
    day_judges: tuple[Callable[[Home, float, Out], None], ...]
    day_starters: tuple[Callable[..., None], ...]
    reconfigures: tuple[Callable[[Home], None], ...]
    #: The check-in gate of timers' findings (None: check-ins are off), answers and outcomes.
    gate: Callable[[Home, Out, int, float], None] | None
    answerers: tuple[Callable[[Home, CheckinAnswer, float, Out], None], ...]
    outcomes: tuple[Callable[[Home, str, float, str], bool], ...]

    @classmethod
    def build(cls, params: Params, rules: tuple[Rule, ...], quiet: frozenset[EventName]) -> Config:
        """``quiet``: the events that are no sign of life (liveness, availability, tamper)."""
        for r in rules:
            if r.events & ENDS_AWAY:
                raise ValueError(f"{r.name}: motion reaches rules through came_home, not events")
        routes = {
            event: Route(
                instant=tuple(r.feed for r in rules if event in r.instant),
                life=event not in quiet,
                state=tuple(r.feed for r in rules if event in r.events),
                ends_away=event in ENDS_AWAY,
            )
            for event in EventName
        }
        defaults: list[tuple[str, Any]] = []
        for r in rules:
            for name in r.fields():
                if any(name == known for known, _ in defaults):
                    raise ValueError(f"{r.name}: field {name!r} is another rule's")
                assert r.state is not None
                defaults.append((name, getattr(r.state, name)))
        states = type("States", (), {"__slots__": tuple(n for n, _ in defaults), "__module__": __name__})
        return cls(
            params=params,
            rules=rules,
            states=states,
            defaults=tuple(defaults),
            routes=routes,
            dues=tuple(r.next_due for r in rules if _defines(r, "next_due")),
            fires=tuple(r.fire for r in rules if _defines(r, "fire")),
            homecomers=tuple(r.came_home for r in rules if _defines(r, "came_home")),
            readings=tuple(r.reading for r in rules if _defines(r, "reading")),
            hearers=tuple(r.heard for r in rules if _defines(r, "heard")),
            life_floor=min((r.after_life() for r in rules), default=INF),
            judge_days=any(r.judges_days() for r in rules),
            day_judges=tuple(r.end_day for r in rules if _defines(r, "end_day")),
            day_starters=tuple(r.day_started for r in rules if _defines(r, "day_started")),
            reconfigures=tuple(r.reconfigured for r in rules if _defines(r, "reconfigured")),
            gate=next((r.gate for r in rules if r.active and _defines(r, "gate")), None),
            answerers=tuple(r.answer for r in rules if r.active and _defines(r, "answer")),
            outcomes=tuple(r.outcome for r in rules if r.active and _defines(r, "outcome")),
        )

    def new_states(self) -> Any:
        """A home's rule state: every rule's fields at their defaults."""
        states = self.states()
        for name, value in self.defaults:
            setattr(states, name, value)
        return states
