"""Escalation policies and the follow-up schedule, read from ``rules/escalation.toml``.

A policy is copied into the incident when it opens (as plain JSON), so editing the file never changes
an incident in flight. The schedule arithmetic here is pure: the escalation runner asks it which step
fires at claim ``k`` and when claim ``k + 1`` is due.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from anju.config import PROJECT_ROOT
from anju.domain import Channel, Outcome, Severity
from anju.errors import ProfileError

log = logging.getLogger(__name__)

DEFAULT_PATH = PROJECT_ROOT / "rules" / "escalation.toml"


class Target(StrEnum):
    """Who an escalation step tells."""

    DUTY_OPERATORS = "duty_operators"
    ONCALL_PHONE = "oncall_phone"
    ONCALL_SUPERVISOR = "oncall_supervisor"
    HOUSEHOLD_CONTACTS = "household_contacts"
    #: The group chat of the household's area (a DingTalk or WeCom robot, by ``ANJU_CHAT_ROUTES``).
    AREA_GROUP = "area_group"
    #: One contact of the household; ``household_contacts`` becomes these when the incident opens.
    CONTACT = "contact"


_PHONE_CHANNELS = frozenset({Channel.SMS, Channel.VOICE})


@dataclass(frozen=True, kw_only=True)
class Notify:
    to: Target
    channel: Channel
    #: For ``household_contacts``: seconds between one contact and the next.
    every_s: int = 0


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str
    after_s: int
    notify: tuple[Notify, ...]


@dataclass(frozen=True, kw_only=True)
class Policy:
    severity: Severity
    steps: tuple[Step, ...]
    repeat_every_s: int | None = None
    repeat_from: str | None = None


#: The on-call posts' names unless the file names them (English through ``vocabulary.TITLES``).
DUTY_PHONE, SUPERVISOR = "值班手机", "值班主管"


@dataclass(frozen=True, kw_only=True)
class OnCall:
    duty_name: str = DUTY_PHONE
    duty_phone: str | None = None
    supervisor_name: str = SUPERVISOR
    supervisor_phone: str | None = None
    language: str = "zh-CN"


@dataclass(frozen=True, kw_only=True)
class Policies:
    by_severity: dict[Severity, Policy]
    oncall: OnCall = field(default_factory=OnCall)
    #: Hours after resolution at which the follow-up is due; absent or 0 = none.
    follow_up_hours: dict[Outcome, float] = field(default_factory=dict)
    #: Whether ``area_group`` entries post: a group chat robot is configured (``runtime_policies``).
    #: Without one they are skipped, not written as rows that could never be sent.
    group_chat: bool = False

    def follow_up_due(self, outcome: Outcome, resolved_at: datetime) -> datetime | None:
        hours = self.follow_up_hours.get(outcome, 0)
        return resolved_at + timedelta(hours=hours) if hours > 0 else None


#: Used when the file is missing or broken: an incident must never fail to open for want of a policy.
FALLBACK = Policies(
    by_severity={
        sev: Policy(
            severity=sev,
            steps=(
                Step(
                    name="notify_duty",
                    after_s=0,
                    notify=(Notify(to=Target.DUTY_OPERATORS, channel=Channel.CONSOLE),),
                ),
            ),
            repeat_every_s=300,
            repeat_from="notify_duty",
        )
        for sev in Severity
    },
    follow_up_hours={Outcome.TAKEN_TO_HOSPITAL: 24, Outcome.ASSISTED_AT_HOME: 24, Outcome.DECEASED: 72},
)


def _notify(raw: Any, where: str) -> Notify:
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: each notify entry is a table like {{ to = ..., channel = ... }}")
    try:
        to = Target(raw["to"])
        channel = Channel(raw["channel"])
    except (KeyError, ValueError) as err:
        raise ProfileError(f"{where}: bad notify entry {raw!r}: {err}") from err
    if to is Target.CONTACT:
        raise ProfileError(f"{where}: use to = 'household_contacts', not 'contact'")
    if to is Target.DUTY_OPERATORS and channel is not Channel.CONSOLE:
        raise ProfileError(f"{where}: duty_operators are reached on the console only")
    if (to is Target.AREA_GROUP) != (channel is Channel.GROUP):
        raise ProfileError(f"{where}: area_group is reached on channel group, and only it")
    if to not in (Target.DUTY_OPERATORS, Target.AREA_GROUP) and channel not in _PHONE_CHANNELS:
        raise ProfileError(f"{where}: {to.value} is reached by sms or voice, not {channel.value}")
    every = raw.get("every_s", 0)
    if not isinstance(every, int) or every < 0:
        raise ProfileError(f"{where}: every_s must be a whole number of seconds >= 0")
    return Notify(to=to, channel=channel, every_s=every)


def _policy(severity: Severity, raw: Any) -> Policy:
    where = f"policies.{severity.value}"
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list) or not raw["steps"]:
        raise ProfileError(f"{where}: needs at least one [[{where}.steps]]")
    steps: list[Step] = []
    for i, s in enumerate(raw["steps"]):
        w = f"{where}.steps[{i}]"
        name, after = s.get("name"), s.get("after_s")
        if not isinstance(name, str) or not name:
            raise ProfileError(f"{w}: needs a name")
        if not isinstance(after, int) or after < 0:
            raise ProfileError(f"{w}: after_s must be a whole number of seconds >= 0")
        if steps and after < steps[-1].after_s:
            raise ProfileError(f"{w}: steps must be in order of after_s")
        notify = tuple(_notify(n, w) for n in s.get("notify", []))
        if not notify:
            raise ProfileError(f"{w}: notifies nobody")
        steps.append(Step(name=name, after_s=after, notify=notify))
    every, start = raw.get("repeat_every_s"), raw.get("repeat_from")
    if every is not None and (not isinstance(every, int) or every <= 0):
        raise ProfileError(f"{where}: repeat_every_s must be a positive number of seconds")
    if every is not None:
        start = start or steps[0].name
        if start not in {s.name for s in steps}:
            raise ProfileError(f"{where}: repeat_from {start!r} is not a step name")
    return Policy(severity=severity, steps=tuple(steps), repeat_every_s=every, repeat_from=start)


def parse_policies(data: dict[str, Any]) -> Policies:
    """Validate the TOML document; every severity needs a policy."""
    raw_policies = data.get("policies", {})
    missing = [s.value for s in Severity if s.value not in raw_policies]
    if missing:
        raise ProfileError(f"escalation policies missing for severity {', '.join(missing)}")
    by_severity = {s: _policy(s, raw_policies[s.value]) for s in Severity}
    oc = data.get("oncall", {})
    oncall = OnCall(
        duty_name=str(oc.get("duty_name", DUTY_PHONE)),
        duty_phone=str(oc["duty_phone"]) if oc.get("duty_phone") else None,
        supervisor_name=str(oc.get("supervisor_name", SUPERVISOR)),
        supervisor_phone=str(oc["supervisor_phone"]) if oc.get("supervisor_phone") else None,
        language=str(oc.get("language", "zh-CN")),
    )
    follow: dict[Outcome, float] = {}
    for key, hours in data.get("follow_up", {}).items():
        try:
            outcome = Outcome(key)
        except ValueError as err:
            raise ProfileError(f"follow_up: unknown outcome {key!r}") from err
        if not isinstance(hours, int | float) or hours < 0:
            raise ProfileError(f"follow_up.{key}: hours must be a number >= 0")
        follow[outcome] = float(hours)
    return Policies(by_severity=by_severity, oncall=oncall, follow_up_hours=follow)


def load_policies(path: Path = DEFAULT_PATH) -> Policies:
    """Read and validate ``path``; raises ProfileError with the reason."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ProfileError(f"{path}: {err}") from err
    return parse_policies(data)


_cache: dict[Path, tuple[float, Policies]] = {}


def current_policies(path: Path = DEFAULT_PATH) -> Policies:
    """The file's policies, re-read when it changes; a broken edit keeps the last good version."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = -1.0
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        policies = load_policies(path)
    except ProfileError as err:
        log.error("escalation policy not loaded, keeping the previous one: %s", err)
        policies = cached[1] if cached else FALLBACK
    _cache[path] = (mtime, policies)
    return policies


# --- The copy stored in the incident -------------------------------------------------------------


def snapshot(policy: Policy, contacts: list[tuple[int, str]]) -> dict[str, Any]:
    """The policy as JSON for ``incident.escalation_policy``, household contacts spelled out.

    ``contacts`` are (contact id, name) in priority order. Each ``household_contacts`` entry becomes
    one step per contact, ``every_s`` apart, so the chain calls them in order and a restart resumes
    at the right one.
    """
    steps: list[dict[str, Any]] = []
    for step in policy.steps:
        plain = [n for n in step.notify if n.to is not Target.HOUSEHOLD_CONTACTS]
        per_contact = [n for n in step.notify if n.to is Target.HOUSEHOLD_CONTACTS]
        if plain or not per_contact:
            steps.append(
                {
                    "name": step.name,
                    "after_s": step.after_s,
                    "notify": [{"to": n.to.value, "channel": n.channel.value} for n in plain],
                }
            )
        for n in per_contact:
            if not contacts:
                steps.append(
                    {
                        "name": step.name,
                        "after_s": step.after_s,
                        "notify": [{"to": Target.HOUSEHOLD_CONTACTS.value, "channel": n.channel.value}],
                    }
                )
            for i, (contact_id, name) in enumerate(contacts):
                steps.append(
                    {
                        "name": f"{step.name}#{i + 1}",
                        "after_s": step.after_s + i * n.every_s,
                        "notify": [
                            {
                                "to": Target.CONTACT.value,
                                "channel": n.channel.value,
                                "contact_id": contact_id,
                                "name": name,
                            }
                        ],
                    }
                )
    steps.sort(key=lambda s: s["after_s"])  # stable: equal offsets keep the file's order
    repeat_index = None
    if policy.repeat_every_s is not None:
        repeat_index = next(
            i for i, s in enumerate(steps) if s["name"].split("#")[0] == (policy.repeat_from or "")
        )
    return {
        "severity": policy.severity.value,
        "steps": steps,
        "repeat_every_s": policy.repeat_every_s,
        "repeat_index": repeat_index,
    }


def step_index(snap: dict[str, Any], k: int) -> int | None:
    """Which step of the stored policy the ``k``-th firing (0-based) is, or None when the chain ends."""
    n = len(snap["steps"])
    if k < n:
        return k
    start = snap.get("repeat_index")
    if snap.get("repeat_every_s") is None or start is None or n == 0:
        return None
    return int(start) + (k - n) % (n - int(start))


def first_due(snap: dict[str, Any], opened_at: datetime) -> datetime | None:
    if not snap["steps"]:
        return None
    return opened_at + timedelta(seconds=snap["steps"][0]["after_s"])


def next_due(snap: dict[str, Any], k: int, due: datetime, now: datetime) -> datetime | None:
    """When firing ``k + 1`` is due, given firing ``k`` was due at ``due`` and fired at ``now``.

    First-pass steps keep their offsets from the opening, so a step missed during downtime fires at
    once after a restart (each exactly once). Repeats never bunch: a repeat that would already be
    overdue is due a full interval after the firing that just happened.
    """
    cur, nxt = step_index(snap, k), step_index(snap, k + 1)
    if cur is None or nxt is None:
        return None
    steps = snap["steps"]
    # Within a pass the file's spacing; from the last step back to repeat_from, the repeat interval.
    gap = float(steps[nxt]["after_s"] - steps[cur]["after_s"] if nxt > cur else snap["repeat_every_s"])
    nominal = due + timedelta(seconds=gap)
    if k + 1 < len(steps) or nominal > now:
        return nominal
    return now + timedelta(seconds=max(gap, 1.0))
