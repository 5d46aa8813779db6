"""The hardware simulator in file mode and as a library: routines, devices, emergencies, faults."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import statistics
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from anju.clock import parse_ts
from anju.config import PROJECT_ROOT
from anju.domain import DeviceKind, Protocol
from anju.errors import ConfigError
from anju.ingest.decode import DeadLetterRecord, Decoder, DeviceInfo, StoredEvent
from anju.ingest.profiles import load_profiles
from anju.simulator import build_fleet, load_scenario
from anju.simulator.catalog import EMERGENCY_KINDS, Faults, Scenario
from anju.simulator.devices import (
    BURST,
    CLOCK_JUMP,
    DUPLICATE,
    HEARTBEAT,
    LOST,
    MALFORMED,
    REBOOT,
    REORDER,
    DeviceLayer,
    Message,
    formatter,
)
from anju.simulator.files import write_files
from anju.simulator.fleet import KIT, ZIGBEE, Fleet
from anju.simulator.household import HouseholdSim
from anju.simulator.live import FleetStream
from anju.simulator.routine import MOTION, PIR_BLIND_S

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 2, tzinfo=TZ).timestamp()  # a Monday
#: Seconds between a physical event and its row (latency, and a few seconds of choreography).
SLACK = 5.0
ALLOWED = {
    "door": {"open", "close", "tamper", "heartbeat", "online", "offline"},
    "pir": {"motion", "tamper", "heartbeat", "online", "offline"},
    "button": {"press", "long_press", "tamper", "heartbeat", "online", "offline"},
}


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "events.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _truth(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "truth.jsonl").read_text(encoding="utf-8").splitlines()]


def _busy_scenario() -> Scenario:
    """Emergencies far more often than in life, so a small fleet shows every kind."""
    return load_scenario("default").scaled(60.0)


def _clean(scenario: Scenario) -> Scenario:
    """The same emergencies over flawless devices, so the file shows exactly what happened."""
    none = Faults(
        loss=0, duplicate=0, reorder=0, drift_ppm_max=0, clock_jump=0, reconnect=0, reboot=0, malformed=0
    )
    return dataclasses.replace(scenario, faults=none)


@pytest.fixture(scope="module")
def emergency_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Fleet]:
    out = tmp_path_factory.mktemp("sim-emergencies")
    fleet = build_fleet(24, seed=5)
    write_files(out, fleet, scenario=_clean(_busy_scenario()), start=START, days=8)
    return out, fleet


def test_same_seed_gives_byte_identical_fleet_events_and_truth(tmp_path: Path) -> None:
    scenario = _busy_scenario()
    for name in ("a", "b"):
        write_files(tmp_path / name, build_fleet(6, seed=42), scenario=scenario, start=START, days=3)
    write_files(tmp_path / "c", build_fleet(6, seed=43), scenario=scenario, start=START, days=3)
    for file in ("events.csv", "truth.jsonl", "fleet.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
    assert (tmp_path / "a" / "events.csv").read_bytes() != (tmp_path / "c" / "events.csv").read_bytes()


def test_two_worker_processes_write_the_same_files_as_one(tmp_path: Path) -> None:
    scenario = _busy_scenario()
    fleet = build_fleet(5, seed=8)
    write_files(tmp_path / "one", fleet, scenario=scenario, start=START, days=2, workers=1)
    write_files(tmp_path / "two", fleet, scenario=scenario, start=START, days=2, workers=2)
    for file in ("events.csv", "truth.jsonl"):
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes(), file


def test_event_file_follows_the_contract_and_is_sorted_by_ts(emergency_run: tuple[Path, Fleet]) -> None:
    out, fleet = emergency_run
    header = (out / "events.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "ts,household_id,device_id,type,event,battery"
    devices = {d.id: (h.id, d.type) for h in fleet.households for d in h.devices}
    previous = None
    rows = _rows(out)
    assert len(rows) > 24 * 8 * 200
    for row in rows:
        at = parse_ts(row["ts"])
        assert row["ts"].endswith("+08:00")
        assert previous is None or at >= previous
        previous = at
        assert devices[row["device_id"]] == (row["household_id"], row["type"])
        assert row["event"] in ALLOWED[row["type"]], row
        assert row["battery"] == "" or 0 <= int(row["battery"]) <= 100


def test_fleet_file_has_households_devices_personas_and_both_protocols(
    emergency_run: tuple[Path, Fleet],
) -> None:
    out, _fleet = emergency_run
    data = json.loads((out / "fleet.json").read_text(encoding="utf-8"))
    assert len(data["households"]) == 24
    protocols = {d["protocol"] for h in data["households"] for d in h["devices"]}
    assert protocols == {"anju-v1", "zigbee2mqtt"}
    for h in data["households"]:
        assert h["timezone"] == "Asia/Shanghai"
        assert h["persona"] in data["personas"]
        kinds = Counter(d["type"] for d in h["devices"])
        assert kinds["door"] == 1 and kinds["button"] == 1 and kinds["pir"] == len(h["rooms"])
        for d in h["devices"]:
            assert set(d) >= {"id", "type", "location", "protocol", "profile", "external_name"}
            assert (d["external_name"] is not None) == (d["protocol"] == "zigbee2mqtt")


def test_a_routine_only_fleet_has_no_emergencies(tmp_path: Path) -> None:
    run = write_files(
        tmp_path, build_fleet(20, seed=3), scenario=load_scenario("routine"), start=START, days=6
    )
    assert _truth(tmp_path) == []
    assert run.truth == Counter()
    assert not any(r["event"] in ("tamper", "press", "offline") for r in _rows(tmp_path))


def test_every_emergency_kind_is_in_the_truth_file(emergency_run: tuple[Path, Fleet]) -> None:
    out, _fleet = emergency_run
    truth = _truth(out)
    assert {t["kind"] for t in truth} == set(EMERGENCY_KINDS)
    for t in truth:
        assert set(t) >= {"household_id", "kind", "start", "end"}
        parse_ts(str(t["start"]))
        assert t["end"] is None or parse_ts(str(t["end"])) >= parse_ts(str(t["start"]))


Row = tuple[float, str, str, str]


class _Index:
    """Rows of one household by device type, on event time."""

    def __init__(self, rows: list[dict[str, str]], fleet: Fleet) -> None:
        self.by_home: dict[str, list[Row]] = defaultdict(list)
        for r in rows:
            self.by_home[r["household_id"]].append(
                (parse_ts(r["ts"]).timestamp(), r["device_id"], r["type"], r["event"])
            )

    def between(
        self, home: str, a: float, b: float, *, events: set[str]
    ) -> list[tuple[float, str, str, str]]:
        return [x for x in self.by_home[home] if a < x[0] < b and x[3] in events]


def _cases(out: Path, kind: str) -> list[dict[str, object]]:
    cases = [t for t in _truth(out) if t["kind"] == kind]
    assert cases, f"no {kind} in the truth file"
    return cases


def _t(value: object) -> float:
    return parse_ts(str(value)).timestamp()


def test_fall_means_no_motion_and_no_door_from_t0_until_found(emergency_run: tuple[Path, Fleet]) -> None:
    out, fleet = emergency_run
    index = _Index(_rows(out), fleet)
    for case in _cases(out, "fall"):
        home, t0 = str(case["household_id"]), _t(case["start"])
        end = _t(case["end"]) if case["end"] else START + 8 * 86400
        assert index.between(home, t0 + SLACK, end - SLACK, events={"motion", "open", "close"}) == []
        # Before the fall the resident was moving about the home.
        assert index.between(home, t0 - 6 * 3600, t0 + SLACK, events={"motion"})
        if case["end"]:
            # Whoever finds the resident comes in through the front door.
            assert index.between(home, end - SLACK, end + SLACK, events={"open"})


def test_button_emergency_is_a_press_of_the_homes_button(emergency_run: tuple[Path, Fleet]) -> None:
    out, fleet = emergency_run
    index = _Index(_rows(out), fleet)
    for case in _cases(out, "button"):
        home, t = str(case["household_id"]), _t(case["start"])
        presses = index.between(home, t - SLACK, t + SLACK, events={"press"})
        assert [p[1] for p in presses] == [case["device_id"]]


def test_wander_is_a_night_door_opening_then_an_empty_home_until_brought_back(
    emergency_run: tuple[Path, Fleet],
) -> None:
    out, fleet = emergency_run
    index = _Index(_rows(out), fleet)
    for case in _cases(out, "wander"):
        home, t, back = str(case["household_id"]), _t(case["start"]), _t(case["end"])
        hour = datetime.fromtimestamp(t, TZ).hour
        assert hour >= 21 or hour < 6, f"wandering at {hour}:00 is not at night"
        assert index.between(home, t - SLACK, t + SLACK, events={"open"})
        assert index.between(home, t + SLACK, back - SLACK, events={"motion", "open"}) == []
        assert index.between(home, back - SLACK, back + SLACK, events={"open"})


def test_not_returned_is_an_outing_far_longer_than_planned(emergency_run: tuple[Path, Fleet]) -> None:
    out, fleet = emergency_run
    index = _Index(_rows(out), fleet)
    for case in _cases(out, "not_returned"):
        home, left, back = str(case["household_id"]), _t(case["start"]), _t(case["end"])
        expected = _t(case["expected_return"])
        assert back > expected + 3600
        assert index.between(home, left - SLACK, left + SLACK, events={"open"})
        assert index.between(home, left, left + 15, events={"close"})
        assert index.between(home, left + SLACK, back - SLACK, events={"motion", "open"}) == []


def test_door_left_open_opens_and_only_closes_at_the_end(emergency_run: tuple[Path, Fleet]) -> None:
    out, fleet = emergency_run
    index = _Index(_rows(out), fleet)
    for case in _cases(out, "door_left_open"):
        home, t, closed = str(case["household_id"]), _t(case["start"]), _t(case["end"])
        assert closed - t >= 20 * 60
        assert index.between(home, t - SLACK, t + SLACK, events={"open"})
        assert index.between(home, t + SLACK, closed - SLACK, events={"open", "close"}) == []
        assert index.between(home, closed - SLACK, closed + SLACK, events={"close"})


def test_a_dead_device_sends_nothing_more(emergency_run: tuple[Path, Fleet]) -> None:
    out, _fleet = emergency_run
    rows = _rows(out)
    for case in _cases(out, "device_dead"):
        t = _t(case["start"])
        mine = [r for r in rows if r["device_id"] == case["device_id"]]
        after = [r for r in mine if parse_ts(r["ts"]).timestamp() > t + SLACK]
        # Zigbee2MQTT says so itself, 25 h later; a kit device just falls silent.
        assert all(r["event"] == "offline" for r in after)
        before = [r for r in mine if parse_ts(r["ts"]).timestamp() <= t]
        assert before, "the device was alive before"


def test_tamper_is_reported_by_the_tampered_kit_device(emergency_run: tuple[Path, Fleet]) -> None:
    out, fleet = emergency_run
    rows = _rows(out)
    for case in _cases(out, "tamper"):
        t = _t(case["start"])
        hits = [
            r
            for r in rows
            if r["device_id"] == case["device_id"]
            and r["event"] == "tamper"
            and abs(parse_ts(r["ts"]).timestamp() - t) < SLACK
        ]
        assert hits
        assert any(d.id == case["device_id"] and d.protocol == KIT for d in fleet.devices)


def _messages(fleet: Fleet, scenario: Scenario, days: float) -> list[Message]:
    out: list[Message] = []
    end = START + days * 86400
    for h in fleet.households:
        sim = HouseholdSim(h, seed=fleet.seed, scenario=scenario, start=START, end=end)
        layer = DeviceLayer(h, seed=fleet.seed, faults=scenario.faults, start=START, end=end)
        out.extend(layer.messages(sim.events()))
    return out


def _faulty() -> Scenario:
    base = load_scenario("routine")
    faults = dataclasses.replace(
        base.faults,
        loss=0.01,
        duplicate=0.02,
        reorder=0.02,
        clock_jump=0.05,
        reconnect=0.1,
        reboot=0.05,
        malformed=0.01,
    )
    return dataclasses.replace(base, faults=faults)


@pytest.fixture(scope="module")
def faulty_messages() -> list[Message]:
    return _messages(build_fleet(10, seed=9), _faulty(), 4)


def test_every_device_fault_appears(faulty_messages: list[Message]) -> None:
    faults = Counter(m.fault for m in faulty_messages)
    for fault in (LOST, DUPLICATE, REORDER, BURST, CLOCK_JUMP, MALFORMED, REBOOT):
        assert faults[fault] > 0, fault


def test_duplicates_repeat_seq_and_ts_of_a_delivered_message(faulty_messages: list[Message]) -> None:
    firsts = {(m.device.id, m.seq, m.ts) for m in faulty_messages if m.fault != DUPLICATE}
    dups = [m for m in faulty_messages if m.fault == DUPLICATE]
    assert dups and all((m.device.id, m.seq, m.ts) in firsts for m in dups)


def test_late_messages_arrive_after_newer_ones_of_the_same_device(faulty_messages: list[Message]) -> None:
    overtaken = 0
    last_seen: dict[str, float] = {}
    for m in faulty_messages:  # in arrival order per household
        if m.fault == REORDER and last_seen.get(m.device.id, -1) > m.event_t:
            overtaken += 1
        last_seen[m.device.id] = max(last_seen.get(m.device.id, 0), m.event_t)
    assert overtaken > 0


def test_clock_jumps_and_backlogs_put_device_time_minutes_from_arrival(
    faulty_messages: list[Message],
) -> None:
    jumped = [m for m in faulty_messages if m.fault == CLOCK_JUMP]
    assert jumped and all(m.ts is not None and abs(m.ts - m.publish_t) > 300 for m in jumped)
    bursts = [m for m in faulty_messages if m.fault == BURST]
    # A reconnecting gateway sends its backlog at once: many messages within a few seconds.
    by_second = Counter((m.device.id, int(m.publish_t)) for m in bursts)
    assert max(by_second.values()) >= 2 or len(bursts) >= 2
    assert all(m.publish_t > m.event_t for m in bursts)


def test_device_clocks_drift_slightly(faulty_messages: list[Message]) -> None:
    ok = [m for m in faulty_messages if m.ts is not None and m.fault is None]
    offsets = {m.device.id: m.ts - m.event_t for m in ok if m.event_t > START + 3 * 86400}  # type: ignore[operator]
    assert any(abs(o) > 0.05 for o in offsets.values())
    assert all(abs(o) < 60 for o in offsets.values())


def test_a_reboot_restarts_seq_at_zero(faulty_messages: list[Message]) -> None:
    assert any(m.fault == REBOOT and m.seq == 0 for m in faulty_messages)


def test_heartbeats_follow_each_profiles_interval_and_batteries_drain(faulty_messages: list[Message]) -> None:
    beats: dict[str, list[Message]] = defaultdict(list)
    for m in faulty_messages:
        if m.event == HEARTBEAT and m.fault is None:
            beats[m.device.id].append(m)
    expected = {("anju-v1", "pir"): 3600, ("anju-v1", "door"): 3600, ("anju-v1", "button"): 1800}
    seen = set()
    for msgs in beats.values():
        d = msgs[0].device
        gaps = [b.event_t - a.event_t for a, b in itertools.pairwise(msgs)]
        assert statistics.median(gaps) == pytest.approx(d.report_s, abs=2)
        if d.protocol == KIT:
            assert d.report_s == expected[(d.protocol, d.type)]
            seen.add(d.type)
        assert msgs[-1].battery <= msgs[0].battery
    assert seen == {"pir", "door", "button"}


def _lookup(fleet: Fleet):  # type: ignore[no-untyped-def]
    table = {}
    for h in fleet.households:
        for d in h.devices:
            info = DeviceInfo(
                device_id=d.id,
                household_id=h.id,
                kind=DeviceKind(d.type),
                protocol=Protocol(d.protocol),
                profile=d.profile,
                external_name=d.external_name,
            )
            table[(Protocol(d.protocol), d.external_name if d.protocol == ZIGBEE else d.id)] = info
    return lambda protocol, key: table.get((protocol, key))


def test_every_payload_is_valid_for_the_ingest_decoder_except_the_deliberately_malformed() -> None:
    fleet = build_fleet(10, seed=9)
    messages = _messages(fleet, _faulty(), 2)
    decoder = Decoder(load_profiles(PROJECT_ROOT / "sensors"), max_clock_skew_s=300)
    lookup = _lookup(fleet)
    outcomes: Counter[str] = Counter()
    for m in messages:
        if not m.delivered:
            continue
        fmt = formatter(fleet.households[0].timezone)
        payload = m.payload(fmt)
        received = datetime.fromtimestamp(m.publish_t, TZ)
        decoded = decoder.decode(m.topic, payload, received, lookup)
        if m.malformed:
            assert isinstance(decoded, DeadLetterRecord), (m.topic, payload)
            outcomes["dead"] += 1
        else:
            assert isinstance(decoded, StoredEvent), (m.topic, payload, decoded)
            assert len(payload) <= 4096
            expected = "heartbeat" if m.event in ("heartbeat", "clear") else m.event
            assert decoded.event.value == expected
            assert decoded.device_id == m.device.id
            outcomes[m.device.protocol] += 1
    assert outcomes["dead"] > 0 and outcomes[KIT] > 0 and outcomes[ZIGBEE] > 0


def test_pirs_never_report_twice_within_their_blind_time() -> None:
    fleet = build_fleet(8, seed=2)
    for h in fleet.households:
        sim = HouseholdSim(h, seed=2, scenario=load_scenario("routine"), start=START, end=START + 3 * 86400)
        last: dict[int, float] = {}
        for t, dev, ev in sim.events():
            if ev == MOTION:
                assert (
                    t - last.get(dev, -1e9) >= PIR_BLIND_S - 10
                )  # hallway glimpses are placed a few s early
                last[dev] = t


def test_no_indoor_motion_while_the_resident_is_out() -> None:
    fleet = build_fleet(12, seed=4)
    checked = 0
    for h in fleet.households:
        sim = HouseholdSim(h, seed=4, scenario=load_scenario("routine"), start=START, end=START + 5 * 86400)
        events = list(sim.events())
        first = int(datetime.fromtimestamp(START, TZ).date().toordinal())
        for day in range(first, first + 4):
            for leave, back in sim.planner.plan(day).outings:
                inside = [e for e in events if leave + 15 < e[0] < back - 1]
                assert inside == [], (h.id, leave, back, inside[:3])
                door = [e[2] for e in events if leave - 1 <= e[0] <= leave + 15 and e[1] == h.door]
                assert door == ["open", "close"]
                checked += 1
    assert checked > 10


def test_residents_differ_by_persona_weekend_and_night() -> None:
    fleet = build_fleet(60, seed=6)
    per_persona: dict[str, list[int]] = defaultdict(list)
    night_bathroom = 0
    wake_weekday: list[float] = []
    wake_weekend: list[float] = []
    for h in fleet.households:
        sim = HouseholdSim(h, seed=6, scenario=load_scenario("routine"), start=START, end=START + 7 * 86400)
        events = list(sim.events())
        per_persona[h.persona.name].append(sum(1 for e in events if e[2] == MOTION))
        bathroom = h.slots.get(("pir", "bathroom"))
        night_bathroom += sum(
            1 for t, d, _e in events if d == bathroom and 1 <= datetime.fromtimestamp(t, TZ).hour < 5
        )
        first = datetime.fromtimestamp(START, TZ).date().toordinal()
        if h.persona.weekend_shift_min >= 20:
            wake_weekday.append(sim.planner.wake(first) - sim.planner.midnight(first))
            wake_weekend.append(sim.planner.wake(first + 5) - sim.planner.midnight(first + 5))
    assert statistics.mean(per_persona["frail"]) < statistics.mean(
        per_persona["social"] + per_persona["early_riser"]
    )
    assert night_bathroom > 0
    assert statistics.mean(wake_weekend) > statistics.mean(wake_weekday)


def test_live_and_file_modes_draw_the_same_messages() -> None:
    fleet = build_fleet(6, seed=12)
    scenario = load_scenario("default").scaled(20.0)
    until = START + 86400
    live = FleetStream(fleet, scenario=scenario, start=START)
    from_live = []
    while (due := live.peek()) is not None and due < until:
        m = live.pop()
        from_live.append((m.publish_t, m.device.id, m.event, m.seq, m.fault))
    from_files = sorted(
        (m.publish_t, m.device.id, m.event, m.seq, m.fault)
        for m in _messages(fleet, scenario, 2)
        if m.publish_t < until
    )
    assert len(from_live) > 1000
    assert from_live == from_files


def test_a_mistake_in_the_simulator_toml_is_refused_with_its_place(tmp_path: Path) -> None:
    for name in ("personas.toml", "fleet.toml", "scenarios.toml"):
        (tmp_path / name).write_text((PROJECT_ROOT / "simulator" / name).read_text(encoding="utf-8"))
    with open(tmp_path / "personas.toml", "a", encoding="utf-8") as f:
        f.write("\n[personas.typo]\nwake_at = 7\n")
    with pytest.raises(ConfigError, match=r"personas\.typo.*wake_at"):
        build_fleet(3, seed=1, simulator_dir=tmp_path)
    with pytest.raises(ConfigError, match="no scenario 'nope'"):
        load_scenario("nope")
    with pytest.raises(ConfigError, match="no fleet mix 'nope'"):
        build_fleet(3, seed=1, mix="nope")
