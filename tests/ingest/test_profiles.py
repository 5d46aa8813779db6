"""Device profiles in sensors/: every shipped file loads, and a broken file says what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from anju.config import PROJECT_ROOT
from anju.domain import DeviceKind, EventName, Protocol
from anju.errors import ProfileError
from anju.ingest.decode import Decoder
from anju.ingest.profiles import load_profiles
from anju.kinds import SENSOR_KINDS

KIT_DOOR = """
name = "{name}"
title = "door"
kind = "door"
protocol = "anju-v1"
heartbeat_s = 3600
battery_low = 15

[topics]
event = "anju/v1/{{device_id}}/event"
heartbeat = "anju/v1/{{device_id}}/heartbeat"
"""


def test_shipped_profiles_cover_every_kind_on_both_protocols() -> None:
    profiles = load_profiles(PROJECT_ROOT / "sensors")
    covered = {(p.protocol, p.kind) for p in profiles.values()}
    # Every kind on the kit protocol; on Zigbee2MQTT the kinds the kind table can encode for it.
    zigbee = {(Protocol.ZIGBEE2MQTT, k) for k in DeviceKind if SENSOR_KINDS[k].zigbee is not None}
    assert covered == {(Protocol.ANJU_V1, kind) for kind in DeviceKind} | zigbee
    assert profiles["anju-button"].heartbeat_s == 1800
    assert profiles["aqara-door"].events["contact"] == {"false": EventName.OPEN, "true": EventName.CLOSE}
    assert profiles["aqara-pir"].events["occupancy"] == {"true": EventName.MOTION}
    assert profiles["aqara-button"].events["action"]["hold"] is EventName.LONG_PRESS


def test_profiles_are_frozen() -> None:
    profile = load_profiles(PROJECT_ROOT / "sensors")["anju-door"]
    with pytest.raises(AttributeError):
        profile.battery_low = 1  # type: ignore[misc]


def test_subscriptions_follow_the_profile_topics() -> None:
    decoder = Decoder(load_profiles(PROJECT_ROOT / "sensors"))
    assert decoder.subscriptions == ("anju/v1/+/event", "anju/v1/+/heartbeat", "zigbee2mqtt/#")


def test_a_new_kind_of_device_is_a_new_file(tmp_path: Path) -> None:
    (tmp_path / "acme-door.toml").write_text(KIT_DOOR.format(name="acme-door"))
    profiles = load_profiles(tmp_path)
    assert profiles["acme-door"].kind is DeviceKind.DOOR
    assert profiles["acme-door"].battery_low == 15


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (KIT_DOOR.format(name="other"), "must match the file name"),
        (KIT_DOOR.format(name="bad").replace('kind = "door"', 'kind = "window"'), "kind: expected one of"),
        (KIT_DOOR.format(name="bad").replace("battery_low = 15", "battery_low = 150"), "battery_low"),
        (KIT_DOOR.format(name="bad").replace("heartbeat_s = 3600", 'heartbeat_s = "1h"'), "heartbeat_s"),
        (KIT_DOOR.format(name="bad").replace("{device_id}/event", "+/event"), "topics.event"),
        (
            KIT_DOOR.format(name="bad").replace('heartbeat = "anju/v1/{device_id}/heartbeat"', ""),
            "missing heartbeat",
        ),
        ('colour = "red"\n' + KIT_DOOR.format(name="bad"), "unknown key(s) colour"),
        (KIT_DOOR.format(name="bad").replace('protocol = "anju-v1"', 'protocol = "lora"'), "protocol"),
        ("name = ", "not valid TOML"),
    ],
    ids=["name", "kind", "battery", "heartbeat", "wildcard", "channel", "extra-key", "protocol", "toml"],
)
def test_invalid_profile_is_refused_with_the_file_and_field(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ProfileError) as err:
        load_profiles(tmp_path)
    assert str(err.value).startswith("bad.toml: ")
    assert reason in str(err.value)


def test_zigbee_profile_may_only_map_events_the_kind_can_report(tmp_path: Path) -> None:
    (tmp_path / "zdoor.toml").write_text(
        """
name = "zdoor"
title = "z door"
kind = "door"
protocol = "zigbee2mqtt"
[topics]
state = "zigbee2mqtt/{friendly_name}"
availability = "zigbee2mqtt/{friendly_name}/availability"
[events.occupancy]
true = "motion"
"""
    )
    with pytest.raises(
        ProfileError, match=r"zdoor.toml: events.occupancy.true: 'motion' is not an event of a door"
    ):
        load_profiles(tmp_path)


def test_empty_profile_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no device profiles"):
        load_profiles(tmp_path)
