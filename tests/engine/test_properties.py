"""Property tests: no event order or duplicate makes the engine crash or fire a key twice."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from anju.domain import DeviceKind, EventName
from anju.engine.core import Engine
from anju.engine.model import DeviceSpec, Finding, HouseholdSpec, Observation
from anju.engine.pack import default_pack_path, load_pack

PACK = load_pack(default_pack_path())
START = datetime(2026, 3, 1, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DEVICES = {
    "pir-1": (DeviceKind.PIR, (EventName.MOTION, EventName.TAMPER, EventName.HEARTBEAT)),
    "door-1": (DeviceKind.DOOR, (EventName.OPEN, EventName.CLOSE, EventName.HEARTBEAT, EventName.OFFLINE)),
    "btn-1": (DeviceKind.BUTTON, (EventName.PRESS, EventName.LONG_PRESS)),
}

events = st.lists(
    st.tuples(
        st.sampled_from(["h-a", "h-b"]),
        st.sampled_from(sorted(DEVICES)),
        st.integers(0, 5),
        st.integers(0, 3 * 86400),
        st.one_of(st.none(), st.integers(0, 100)),
    ),
    max_size=60,
)


def _engine() -> Engine:
    e = Engine(PACK)
    e.configure(
        HouseholdSpec(
            household_id=hid,
            timezone="Asia/Shanghai",
            devices=tuple(DeviceSpec(device_id=d, kind=k, heartbeat_s=1800) for d, (k, _) in DEVICES.items()),
            # The second home also alerts again at the day part's max (an opt-in of the pack).
            overrides={"inactivity": {"alert_again_at_max": True}} if hid == "h-b" else {},
        )
        for hid in ("h-a", "h-b")
    )
    return e


def _obs(hid: str, device: str, which: int, offset: int, battery: int | None) -> Observation:
    kind, names = DEVICES[device]
    return Observation(
        household_id=hid,
        device_id=device,
        kind=kind,
        event=names[which % len(names)],
        at=START + timedelta(seconds=offset),
        battery=battery,
    )


def _run(e: Engine, observations: list[Observation], advance_every: bool) -> list[Finding]:
    out: list[Finding] = []
    for obs in observations:
        if advance_every:
            out += e.advance(obs.at)
        out += e.observe(obs)
    out += e.advance(START + timedelta(days=5))
    return out


@settings(max_examples=150, deadline=None)
@given(events, st.booleans())
def test_any_order_with_duplicates_never_crashes_or_fires_a_key_twice(
    raw: list[tuple], advance_every: bool
) -> None:
    observations = [_obs(*r) for r in raw]
    observations += observations[: len(observations) // 2]  # redelivered messages
    findings = _run(_engine(), observations, advance_every)
    keys = Counter((f.household_id, f.rule, f.key) for f in findings)
    assert all(n == 1 for n in keys.values()), keys.most_common(3)


@settings(max_examples=60, deadline=None)
@given(events, st.integers(0, 60))
def test_a_restart_at_any_point_fires_nothing_twice(raw: list[tuple], cut: int) -> None:
    observations = sorted((_obs(*r) for r in raw), key=lambda o: o.at)
    cut = min(cut, len(observations))
    first = _engine()
    before = _run_partial(first, observations[:cut])
    second = _engine()
    for hid in ("h-a", "h-b"):
        second.restore(hid, first.snapshot(hid))
    after = _run(second, observations[cut:], advance_every=True)
    keys = Counter((f.household_id, f.rule, f.key) for f in before + after)
    assert all(n == 1 for n in keys.values()), keys.most_common(3)


def _run_partial(e: Engine, observations: list[Observation]) -> list[Finding]:
    out: list[Finding] = []
    for obs in observations:
        out += e.advance(obs.at)
        out += e.observe(obs)
    return out
