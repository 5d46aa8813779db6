"""The decoder: finds the topic's template among the loaded profiles and hands the message to its
protocol; whatever goes wrong becomes a dead letter with its reason, never an exception."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from anju.domain import Protocol
from anju.errors import DecodeError
from anju.ingest.decode.kit import decode_kit
from anju.ingest.decode.payload import MISSING, json_object, timestamp
from anju.ingest.decode.records import CanaryRecord, Decoded, DeviceLookup, dead_letter
from anju.ingest.decode.topics import Route
from anju.ingest.decode.zigbee import decode_z2m
from anju.ingest.profiles import Profile


class Decoder:
    """Decodes messages of every protocol the loaded profiles describe."""

    def __init__(self, profiles: Mapping[str, Profile], *, max_clock_skew_s: float = 300.0) -> None:
        self.profiles = dict(profiles)
        self._max_skew = timedelta(seconds=max_clock_skew_s)
        routes = {
            Route.from_template(p.protocol, channel, template)
            for p in self.profiles.values()
            for channel, template in p.topics.items()
        }
        # Most specific template first: ".../availability" before the bare state topic.
        self.routes = sorted(routes, key=lambda r: (-(len(r.prefix) + len(r.suffix)), r.prefix, r.channel))

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return tuple(sorted({route.subscription for route in self.routes}))

    def decode(self, topic: str, payload: bytes, received_at: datetime, lookup: DeviceLookup) -> Decoded:
        """One message, never raising: bad input becomes a dead letter with its reason."""
        for route in self.routes:
            identity = route.match(topic)
            if identity is None:
                continue
            try:
                if route.protocol is Protocol.ANJU_V1:
                    return decode_kit(route, identity, topic, payload, received_at, lookup, self._max_skew)
                return decode_z2m(
                    self.profiles, route, identity, topic, payload, received_at, lookup, self._max_skew
                )
            except DecodeError as err:
                return dead_letter(topic, payload, received_at, err.reason, device_id=identity)
            except Exception as err:  # a case no check foresaw: still this message's fault alone
                reason = f"payload could not be decoded: {type(err).__name__}: {err}"
                return dead_letter(topic, payload, received_at, reason, device_id=identity)
        return dead_letter(topic, payload, received_at, "topic matches no device profile in sensors/")

    def canary(self, topic: str, payload: bytes, received_at: datetime) -> Decoded:
        """The service's own canary: ``{"sent_at": RFC 3339}``; anything else is a dead letter."""
        try:
            obj = json_object(payload)
            return CanaryRecord(sent_at=timestamp(obj.get("sent_at", MISSING), "sent_at"))
        except DecodeError as err:
            return dead_letter(topic, payload, received_at, f"canary: {err.reason}")
        except Exception as err:
            return dead_letter(topic, payload, received_at, f"canary: {type(err).__name__}: {err}")
