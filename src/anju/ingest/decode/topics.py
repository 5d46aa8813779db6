"""Topic templates: which protocol and channel a topic belongs to, and the device it names."""

from __future__ import annotations

from dataclasses import dataclass

from anju.domain import Protocol
from anju.ingest.profiles import PLACEHOLDER


@dataclass(frozen=True, slots=True)
class Route:
    """One topic template: ``prefix`` + identity + ``suffix``."""

    protocol: Protocol
    channel: str
    prefix: str
    suffix: str

    @classmethod
    def from_template(cls, protocol: Protocol, channel: str, template: str) -> Route:
        prefix, _, suffix = template.partition(PLACEHOLDER[protocol])
        return cls(protocol, channel, prefix, suffix)

    def match(self, topic: str) -> str | None:
        """The identity segment if ``topic`` fits this template."""
        if len(topic) <= len(self.prefix) + len(self.suffix):
            return None
        if not (topic.startswith(self.prefix) and topic.endswith(self.suffix)):
            return None
        identity = topic[len(self.prefix) : len(topic) - len(self.suffix)]
        # Kit device ids are one topic level; Zigbee2MQTT friendly names may contain "/".
        if self.protocol is Protocol.ANJU_V1 and "/" in identity:
            return None
        return identity

    @property
    def subscription(self) -> str:
        if self.protocol is Protocol.ANJU_V1:
            return f"{self.prefix}+{self.suffix}"
        return f"{self.prefix}#"
