"""A seeded generator of hostile MQTT messages, each one that Anju must keep as a dead letter.

Every message names its category, its topic and what Anju must make of it: ``dead_letter`` for
all of them except messages from devices nobody registered, which the contract keeps in the
"unknown devices" list instead (``unknown_device``). Valid messages with known ``seq`` are made here
too, some with legal-but-unusual content (escaped surrogate pairs, deep-but-allowed nesting), so a
decoder that refuses too much is caught as surely as one that refuses too little.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from anju.domain import DeviceKind

Expect = Literal["dead_letter", "unknown_device"]
SEQ_MAX = 2**32 - 1

#: Lone surrogates and NUL as Python text; ``json.dumps`` writes them as ``\\uXXXX`` escapes.
BAD_TEXT = ("\ud800", "\udc00", "\udbff", "a\udfffb", "\ud800\ud800", "\x00", "ok\x00", "\x00\ud800")
#: The same as raw bytes inside a JSON string: CESU/WTF-8 surrogates and a bare NUL byte.
BAD_RAW = (b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xa0\x80\xed\xb0\x80", b"\x00", b"a\x00b")
NOT_UTF8 = (
    b"\xff",
    b"\xfe\xff",
    b"\xc0\xaf",  # overlong "/"
    b"\xc0\x80",  # overlong NUL
    b"\xe2\x82",  # truncated multi-byte
    b"\xf5\x80\x80\x80",  # past U+10FFFF
    b"\x80",  # lone continuation byte
    "é".encode("latin-1"),
)
EVENTS = {DeviceKind.PIR: "motion", DeviceKind.DOOR: "open", DeviceKind.BUTTON: "press"}
WRONG_EVENTS = {
    DeviceKind.PIR: ("open", "press", "close", "long_press"),
    DeviceKind.DOOR: ("motion", "press", "long_press"),
    DeviceKind.BUTTON: ("motion", "open", "close"),
}


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    category: str
    expect: Expect
    #: The device id or Zigbee2MQTT friendly name the topic names ("" when the topic names none).
    device: str = ""


@dataclass
class Fleet:
    """What the messages address: ``prefix`` namespaces every topic (``t/<run>/``)."""

    prefix: str
    kit: dict[str, DeviceKind]
    #: Zigbee2MQTT friendly name -> (device id, kind).
    z2m: dict[str, tuple[str, DeviceKind]] = field(default_factory=dict)
    unknown_kit: list[str] = field(default_factory=list)
    unknown_z2m: list[str] = field(default_factory=list)

    def kit_topic(self, device_id: str, channel: str = "event") -> str:
        return f"{self.prefix}anju/v1/{device_id}/{channel}"

    def z2m_topic(self, name: str, availability: bool = False) -> str:
        return f"{self.prefix}zigbee2mqtt/{name}" + ("/availability" if availability else "")


class Hostile:
    """Hostile messages for ``fleet``, reproducible from ``seed``; ``ts_ms`` is a plausible device clock."""

    def __init__(self, fleet: Fleet, *, seed: int, ts_ms: int) -> None:
        self.fleet = fleet
        self.rng = random.Random(seed)
        self.ts_ms = ts_ms
        self.categories: dict[str, Callable[[], Message]] = {
            "surrogate_escaped": self.surrogate_escaped,
            "nul_escaped": self.nul_escaped,
            "bad_text_in_key": self.bad_text_in_key,
            "raw_surrogate_or_nul": self.raw_surrogate_or_nul,
            "not_utf8": self.not_utf8,
            "utf8_bom": self.utf8_bom,
            "nesting_bomb": self.nesting_bomb,
            "number_out_of_range": self.number_out_of_range,
            "nan_infinity": self.nan_infinity,
            "bad_timestamp": self.bad_timestamp,
            "truncated_json": self.truncated_json,
            "wrong_type": self.wrong_type,
            "missing_field": self.missing_field,
            "wrong_event_or_kind": self.wrong_event_or_kind,
            "empty_payload": self.empty_payload,
            "oversize_payload": self.oversize_payload,
            "bad_topic_shape": self.bad_topic_shape,
            "not_an_object": self.not_an_object,
            "duplicate_keys": self.duplicate_keys,
            "wrong_protocol": self.wrong_protocol,
            "z2m_hostile": self.z2m_hostile,
            "z2m_availability": self.z2m_availability,
            "unknown_device": self.unknown_device,
        }

    def messages(self, count: int) -> list[Message]:
        """``count`` messages, the categories in turn (so every one is covered), variants at random."""
        makers = list(self.categories.values())
        return [makers[i % len(makers)]() for i in range(count)]

    # -- building blocks ----------------------------------------------------------------------

    def _kit_device(self) -> tuple[str, DeviceKind]:
        device_id = self.rng.choice(sorted(self.fleet.kit))
        return device_id, self.fleet.kit[device_id]

    def _channel(self) -> str:
        return self.rng.choice(("event", "event", "heartbeat"))

    def _body(self, kind: DeviceKind, channel: str) -> dict[str, Any]:
        body: dict[str, Any] = {"seq": self.rng.randrange(2**32), "ts": self.ts_ms + self.rng.randrange(1000)}
        if channel == "event":
            body.update(type=kind.value, event=EVENTS[kind])
        body["battery"] = self.rng.randrange(40, 101)
        if channel == "heartbeat":
            body["fw"] = "1.4.2"
        return body

    def _kit(self, category: str, build: Callable[[dict[str, Any], DeviceKind, str], bytes]) -> Message:
        device_id, kind = self._kit_device()
        channel = self._channel()
        payload = build(self._body(kind, channel), kind, channel)
        return Message(self.fleet.kit_topic(device_id, channel), payload, category, "dead_letter", device_id)

    def _z2m_name(self) -> tuple[str, DeviceKind]:
        name = self.rng.choice(sorted(self.fleet.z2m))
        return name, self.fleet.z2m[name][1]

    # -- categories ---------------------------------------------------------------------------

    def surrogate_escaped(self) -> Message:
        """A lone surrogate as a JSON escape in any string field, known or not, or nested."""
        bad = self.rng.choice([t for t in BAD_TEXT if "\x00" not in t])
        return self._kit("surrogate_escaped", lambda body, kind, ch: self._poison(body, ch, bad))

    def nul_escaped(self) -> Message:
        bad = self.rng.choice([t for t in BAD_TEXT if "\x00" in t])
        return self._kit("nul_escaped", lambda body, kind, ch: self._poison(body, ch, bad))

    def _poison(self, body: dict[str, Any], channel: str, bad: str) -> bytes:
        where = self.rng.choice(("type", "event", "fw", "ts", "note", "nested", "list"))
        if where in ("type", "event") and channel == "event":
            body[where] = self.rng.choice((bad, body[where] + bad, bad + body[where]))
        elif where == "fw":
            body["fw"] = "1." + bad
        elif where == "ts":
            body["ts"] = "2026-11-29T07:02:11" + bad + "+08:00"
        elif where == "nested":
            body["meta"] = {"a": {"b": [1, {"c": bad}]}}
        elif where == "list":
            body["tags"] = ["x", bad, "y"]
        else:
            body["note"] = bad
        return json.dumps(body).encode()

    def bad_text_in_key(self) -> Message:
        """Lone surrogates and NUL in a field name, top level or nested."""
        bad = self.rng.choice(BAD_TEXT)

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            key = self.rng.choice((bad, "k" + bad, bad + "seq"))
            if self.rng.random() < 0.5:
                body[key] = 1
            else:
                body["meta"] = {"ok": [{key: "v"}]}
            return json.dumps(body).encode()

        return self._kit("bad_text_in_key", build)

    def raw_surrogate_or_nul(self) -> Message:
        """Surrogate code points encoded raw (not UTF-8) or a raw NUL byte, in a value or a key."""
        raw = self.rng.choice(BAD_RAW)

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            text = json.dumps(body).encode()
            if self.rng.random() < 0.5:
                return text[:-1] + b', "note": "x' + raw + b'y"}'
            return text[:-1] + b', "' + raw + b'": 1}'

        return self._kit("raw_surrogate_or_nul", build)

    def not_utf8(self) -> Message:
        bad = self.rng.choice(NOT_UTF8)

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            text = json.dumps(body).encode()
            form = self.rng.randrange(4)
            if form == 0:
                return text[:-1] + b', "note": "' + bad + b'"}'
            if form == 1:
                return json.dumps(body).encode("utf-16")
            if form == 2:
                return b"\xff" + bytes(self.rng.randrange(128, 256) for _ in range(self.rng.randrange(200)))
            return bad + text

        return self._kit("not_utf8", build)

    def utf8_bom(self) -> Message:
        return self._kit("utf8_bom", lambda body, kind, ch: b"\xef\xbb\xbf" + json.dumps(body).encode())

    def nesting_bomb(self) -> Message:
        """Deep arrays or objects under 4 KiB: the whole payload, or inside an extra field."""

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            depth = self.rng.choice((33, 40, 100, 500, 1000, 1500, 1900))
            form = self.rng.randrange(5)
            if form == 0:
                return b"[" * depth + b"]" * depth
            if form == 1:
                depth = min(depth, 780)
                return b'{"a":' * depth + b"1" + b"}" * depth
            if form == 2:
                return b"[" * min(depth * 2, 4000)  # unbalanced
            inner = (
                ("[" * depth + "]" * depth)
                if form == 3
                else ('{"x":' * min(depth, 600) + "0" + "}" * min(depth, 600))
            )
            text = json.dumps(body)
            return (text[:-1] + ', "meta": ' + inner + "}").encode()[:4096]

        return self._kit("nesting_bomb", build)

    def number_out_of_range(self) -> Message:
        """Numbers past uint32/int64 and past float range (and floats where integers belong)."""
        huge = ("9223372036854775808", "-9223372036854775809", "18446744073709551616", "1e400", "-1e400")
        limits = {
            "seq": ("4294967296", "-1", "1e-400", "4294967295.5", "1" + "0" * self.rng.randrange(20, 3000)),
            "battery": (
                "101",
                "2147483648",
                "-2147483649",
                "1e-400",
                "-" + "9" * self.rng.randrange(20, 300),
            ),
            "rssi": ("301", "-201", "2147483648", "-2147483649", "1.7976931348623157e309"),
            "ts": ("253402300800000", "-1", "1e-400", "1795900931250.0", "9" * self.rng.randrange(16, 400)),
        }

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            name = self.rng.choice(sorted(limits))
            value = self.rng.choice(limits[name] + huge)
            text = json.dumps({k: v for k, v in body.items() if k != name})
            return (text[:-1] + f', "{name}": {value}}}').encode()

        return self._kit("number_out_of_range", build)

    def nan_infinity(self) -> Message:
        """``NaN``/``Infinity`` literals (not JSON) in any field, extra ones too."""

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            name = self.rng.choice(("seq", "battery", "rssi", "ts", "note"))
            literal = self.rng.choice(("NaN", "Infinity", "-Infinity"))
            text = json.dumps({k: v for k, v in body.items() if k != name})
            return (text[:-1] + f', "{name}": {literal}}}').encode()

        return self._kit("nan_infinity", build)

    def bad_timestamp(self) -> Message:
        values: list[Any] = [
            -1,
            -(2**63),
            253_402_300_800_000,  # 10000-01-01
            2**63,
            2**64 + 5,
            1795900931250.5,
            1.7959e12,
            "10000-01-01T00:00:00Z",
            "9999-12-31T23:59:59-01:00",  # past 9999 once in UTC
            "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
            "0000-01-01T00:00:00Z",
            "2026-02-30T07:00:00+08:00",
            "2026-11-29T25:00:00+08:00",
            "2026-11-29T07:00:00",  # no offset
            "2026-11-29",
            "",
            "now",
            "1795900931250",
            True,
            None,
            [],
            {},
        ]
        value = self.rng.choice(values)

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            body["ts"] = value
            return json.dumps(body).encode()

        return self._kit("bad_timestamp", build)

    def truncated_json(self) -> Message:
        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            text = json.dumps(body).encode()
            return text[: self.rng.randrange(1, len(text))]

        return self._kit("truncated_json", build)

    def wrong_type(self) -> Message:
        """Each known field with a value of the wrong JSON type or range."""
        choices: list[tuple[str, Any]] = [
            ("seq", "1"),
            ("seq", 1.0),
            ("seq", True),
            ("seq", None),
            ("seq", -1),
            ("seq", 2**32),
            ("seq", [1]),
            ("seq", {"n": 1}),
            ("type", 5),
            ("type", None),
            ("type", ["pir"]),
            ("type", True),
            ("event", 1),
            ("event", None),
            ("event", ["press"]),
            ("event", {"press": True}),
            ("battery", "88"),
            ("battery", 101),
            ("battery", -1),
            ("battery", 50.5),
            ("battery", True),
            ("battery", [88]),
            ("rssi", "-70"),
            ("rssi", 301),
            ("rssi", -201),
            ("rssi", 1.5),
            ("rssi", False),
            ("fw", 5),
            ("fw", "x" * 65),
            ("fw", ["1.4"]),
            ("fw", True),
        ]
        name, value = self.rng.choice(choices)

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            if name in ("event",) and ch != "event":
                body["type"] = 7  # heartbeats ignore 'event'; keep the message wrong on 'type'
            else:
                body[name] = value
            return json.dumps(body).encode()

        return self._kit("wrong_type", build)

    def missing_field(self) -> Message:
        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            required = ["seq", "ts"] + (["type", "event"] if ch == "event" else [])
            for name in self.rng.sample(required, self.rng.randrange(1, len(required) + 1)):
                del body[name]
            return json.dumps(body).encode()

        return self._kit("missing_field", build)

    def wrong_event_or_kind(self) -> Message:
        """A fake alarm or a fake 'all is well': the event of another kind, or a kind the device is not."""

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            others = [k for k in (DeviceKind.PIR, DeviceKind.DOOR, DeviceKind.BUTTON) if k is not kind]
            form = self.rng.randrange(4) if ch == "event" else 0
            if form == 0:
                other = self.rng.choice(others)
                body["type"] = other.value
                if ch == "event":
                    body["event"] = EVENTS[other]
            elif form == 1:
                body["event"] = self.rng.choice(WRONG_EVENTS[kind])
            elif form == 2:
                body["event"] = self.rng.choice(("Press", "press ", "MOTION", "explode", "heartbeat", ""))
            else:
                body["type"] = self.rng.choice(("PIR", "sos", "", "door\t"))
            return json.dumps(body).encode()

        return self._kit("wrong_event_or_kind", build)

    def empty_payload(self) -> Message:
        payload = self.rng.choice((b"", b" ", b"\n", b"\t\r\n  "))
        return self._kit("empty_payload", lambda body, kind, ch: payload)

    def oversize_payload(self) -> Message:
        """Over 4 KiB, on registered, unknown and badly named devices alike: refused before lookup."""
        size = self.rng.choice((4097, 4200, 8192, 20_000, 65_000))

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            text = json.dumps(body).encode()
            return text[:-1] + b', "note": "' + b"x" * max(size - len(text) - 12, 0) + b'"}'

        message = self._kit("oversize_payload", build)
        if self.rng.random() < 0.3 and self.fleet.unknown_kit:
            device = self.rng.choice(self.fleet.unknown_kit)
            return Message(
                self.fleet.kit_topic(device), message.payload, message.category, "dead_letter", device
            )
        return message

    def bad_topic_shape(self) -> Message:
        """Topics inside the subscribed filters that name no valid device."""
        body = json.dumps({"seq": 1, "ts": self.ts_ms, "type": "button", "event": "press"}).encode()
        form = self.rng.randrange(10)
        prefix = self.fleet.prefix
        if form == 0:
            device = "d" * self.rng.randrange(65, 200)
        elif form == 1:
            device = self.rng.choice(("a b", "dev$1", "a*b", "x:y", "dev,1", "=", "~", "'", '"', "\\"))
        elif form == 2:
            device = self.rng.choice(("ä", "设备-1", "btn-😀", "pir\u00a0", "\u200bbtn"))
        elif form == 3:
            return Message(f"{prefix}anju/v1//{self._channel()}", body, "bad_topic_shape", "dead_letter")
        elif form == 4:
            return Message(f"{prefix}zigbee2mqtt", body, "bad_topic_shape", "dead_letter")
        elif form == 5:
            return Message(f"{prefix}zigbee2mqtt/", body, "bad_topic_shape", "dead_letter")
        elif form == 6:
            name = "n" * self.rng.randrange(129, 300)
            return Message(self.fleet.z2m_topic(name), body, "bad_topic_shape", "dead_letter", name)
        elif form == 7:
            # Many levels (Mosquitto itself refuses past 200 and disconnects the publisher).
            name = "/".join("seg" for _ in range(self.rng.choice((50, 190))))
            return Message(self.fleet.z2m_topic(name), body, "bad_topic_shape", "dead_letter", name)
        elif form == 9:
            name = "长" * self.rng.randrange(129, 20_000)  # a topic of up to 60 KB
            return Message(self.fleet.z2m_topic(name), body, "bad_topic_shape", "dead_letter", name)
        else:
            device = self.rng.choice(("..", ".", "-", "_")) * self.rng.randrange(65, 80)
        return Message(
            self.fleet.kit_topic(device, self._channel()), body, "bad_topic_shape", "dead_letter", device
        )

    def not_an_object(self) -> Message:
        payload = self.rng.choice(
            (
                b"[]",
                b"{}",
                b'"press"',
                b"1",
                b"-0",
                b"null",
                b"true",
                b"false",
                b"[1,2,3]",
                b'["seq",1]',
                b"0.5",
            )
        )

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            if payload == b"{}":
                return payload  # an object, but every required field is missing
            if self.rng.random() < 0.3:
                return json.dumps([body]).encode()
            return payload

        return self._kit("not_an_object", build)

    def duplicate_keys(self) -> Message:
        """The same field twice (parsers disagree on which wins: smuggling), harmless values or not."""

        def build(body: dict[str, Any], kind: DeviceKind, ch: str) -> bytes:
            name = self.rng.choice(sorted(body))
            text = json.dumps(body)
            extra = json.dumps({name: body[name]})[1:-1]
            return (text[:-1] + ", " + extra + "}").encode()

        return self._kit("duplicate_keys", build)

    def wrong_protocol(self) -> Message:
        """A kit topic naming a device registered for Zigbee2MQTT."""
        device_id, kind = self.rng.choice(sorted(self.fleet.z2m.values()))
        body = json.dumps({"seq": 1, "ts": self.ts_ms, "type": kind.value, "event": EVENTS[kind]}).encode()
        return Message(self.fleet.kit_topic(device_id), body, "wrong_protocol", "dead_letter", device_id)

    def z2m_hostile(self) -> Message:
        """A registered Zigbee2MQTT device's state topic with a payload that must be refused."""
        name, kind = self._z2m_name()
        good: dict[str, Any] = {"battery": 90, "linkquality": 80}
        good.update(
            {"contact": False}
            if kind is DeviceKind.DOOR
            else {"occupancy": True}
            if kind is DeviceKind.PIR
            else {"action": "single"}
        )
        text = json.dumps(good)
        form = self.rng.randrange(11)
        if form == 0:
            payload = text[: self.rng.randrange(1, len(text))].encode()
        elif form == 1:
            payload = self.rng.choice((b"[]", b"1", b"null", b'"single"', b"true", b""))
        elif form == 2:
            payload = (
                text[:-1] + ', "battery": ' + self.rng.choice(("NaN", "Infinity", "-Infinity")) + "}"
            ).encode()
        elif form == 3:
            good["battery"] = self.rng.choice(("full", 101, -5, 1e300, [1], {"v": 1}, True))
            payload = json.dumps(good).encode()
        elif form == 4:
            payload = (
                text[:-1] + ', "linkquality": ' + self.rng.choice(("1e400", "-1e400", "1" + "0" * 40)) + "}"
            ).encode()
        elif form == 5:
            good[self.rng.choice(("note", "action", "contact"))] = self.rng.choice(BAD_TEXT)
            payload = json.dumps(good).encode()
        elif form == 6:
            good[self.rng.choice(BAD_TEXT)] = 1
            payload = json.dumps(good).encode()
        elif form == 7:
            payload = b"[" * 1500 + b"]" * 1500
        elif form == 8:
            payload = text.encode()[:-1] + b', "note": "' + self.rng.choice(NOT_UTF8) + b'"}'
        elif form == 9:
            payload = text.encode()[:-1] + b', "note": "' + b"x" * 4100 + b'"}'
        else:
            payload = text.encode()[:-1] + b', "battery": 90}'  # duplicate key
        return Message(self.fleet.z2m_topic(name), payload, "z2m_hostile", "dead_letter", name)

    def z2m_availability(self) -> Message:
        name, _ = self._z2m_name()
        payload = self.rng.choice(
            (
                b"",
                b"on",
                b"ONLINE",
                b"\xff\xfe",
                b'{"state": "maybe"}',
                b'{"state": null}',
                b'{"status": "online"}',
                b"[" * 2000,
                b'["online"]',
                b'"online"',
                b'{"state": "on\\u0000line"}',
                b'{"state": "online\\ud800"}',
                b"online\x00",
                b"x" * 5000,
            )
        )
        return Message(
            self.fleet.z2m_topic(name, availability=True), payload, "z2m_availability", "dead_letter", name
        )

    def unknown_device(self) -> Message:
        """Anything under 4 KiB from a device nobody registered: kept as an unknown device instead."""
        if self.fleet.unknown_z2m and self.rng.random() < 0.3:
            name = self.rng.choice(self.fleet.unknown_z2m)
            payload = self.rng.choice(
                (b'{"action": "single"}', b'{"contact": "\\ud800"}', b"[" * 3000, b"\xff")
            )
            return Message(self.fleet.z2m_topic(name), payload, "unknown_device", "unknown_device", name)
        device = self.rng.choice(self.fleet.unknown_kit)
        payload = self.rng.choice(
            (
                json.dumps({"seq": 1, "ts": self.ts_ms, "type": "button", "event": "press"}).encode(),
                b'{"seq": "\\ud800"}',
                b"[" * 3000,
                b"\xff\xfe",
                b"",
            )
        )
        return Message(
            self.fleet.kit_topic(device, self._channel()), payload, "unknown_device", "unknown_device", device
        )


@dataclass(frozen=True, slots=True)
class Valid:
    topic: str
    payload: bytes
    device_id: str
    seq: int


def valid_messages(fleet: Fleet, *, per_device: int, ts_ms: int, seed: int) -> Iterator[Valid]:
    """Kit events and heartbeats that must each be stored once, with legal-but-unusual extras."""
    rng = random.Random(seed)
    extras: list[dict[str, Any]] = [
        {},
        {},
        {"note": "王奶奶 \ud83d\ude00 é"},  # an escaped surrogate pair is a real character
        {"meta": {"a": [[[[[[[[[[1]]]]]]]]]]}},
        {"meta": json.loads("[" * 30 + "]" * 30)},  # deep, but within the limit
        {"rssi": -200, "battery": 100},
        {"battery": None, "rssi": None},
        {"extra": 1e300, "big": 10**30},  # unknown fields are not checked for range
    ]
    for device_id, kind in sorted(fleet.kit.items()):
        for seq in range(1, per_device + 1):
            channel = "event" if kind is DeviceKind.PIR and seq % 3 else "heartbeat"
            # Device clocks up to just under 5 minutes off either way still count as on time.
            skew_ms = rng.choice((0, 0, 0, 290_000, -290_000, 60_000))
            body: dict[str, Any] = {"seq": seq, "ts": ts_ms + seq + skew_ms}
            if channel == "event":
                body.update(type=kind.value, event="motion")
            else:
                body.update(battery=90, rssi=-60, fw="1.4.2")
            body.update(rng.choice(extras))
            yield Valid(fleet.kit_topic(device_id, channel), json.dumps(body).encode(), device_id, seq)
        # The edges of every range the contract allows: seq 0 and 2^32-1, the years 1 and 9999
        # (a clock that far off is flagged and the receive time used, but the message is stored).
        edges: tuple[tuple[int, str | int], ...] = (
            (0, "0001-01-01T00:00:00Z"),  # Go's zero time: what a gateway with no clock sends
            (SEQ_MAX - 1, "9999-12-31T23:59:59.999999+00:00"),
            (SEQ_MAX, 253_402_300_799_999),
        )
        for seq, ts in edges:
            body = {"seq": seq, "ts": ts, "battery": 100, "rssi": 300, "fw": "f" * 64}
            yield Valid(fleet.kit_topic(device_id, "heartbeat"), json.dumps(body).encode(), device_id, seq)
