"""Which group chat hears of an incident: the robot of the household's area, else the global one.

A center runs one DingTalk or WeCom group per area (district → town → village, written
``西湖区/留下街道/小和山社区`` in ``households.area``). ``ANJU_CHAT_ROUTES`` maps an area prefix to a
robot: ``{"西湖区": {"provider": "wecom", "key": "..."}, "西湖区/留下街道": {"provider": "dingtalk",
"webhook": "...", "secret": "..."}}``. The longest prefix that matches whole segments wins; ``""``
matches every area. An entry without credentials uses that provider's global robot; an area no
entry matches goes to the global robots (``ANJU_DINGTALK_*``, ``ANJU_WECOM_*``, first in the table).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from anju.config import Settings
from anju.domain import Channel
from anju.errors import ConfigError, DeliveryFailed
from anju.notify.provider import ChatProvider, Outgoing, Sent
from anju.notify.providers import PROVIDERS, BuildArgs, Capability, ProviderSettings

log = logging.getLogger("anju.notify")
SEPARATOR = "/"


class ChatRoutingSettings(ProviderSettings):
    """``ANJU_CHAT_ROUTES``: area prefix → ``{"provider": name, <that robot's credentials>}``."""

    model_config = SettingsConfigDict(env_prefix="ANJU_CHAT_", extra="ignore")

    routes: dict[str, dict[str, str]] = Field(default_factory=dict)


def area_key(area: str | None) -> str:
    """An area as its segments, trimmed, joined by ``/``: ``" 西湖区 / 留下街道/"`` is ``西湖区/留下街道``."""
    parts = [part.strip() for part in (area or "").split(SEPARATOR)]
    return SEPARATOR.join(part for part in parts if part)


def covers(prefix: str, area: str) -> bool:
    """Whether the route ``prefix`` covers ``area``, segment by segment (``sim-1`` is not ``sim-12``)."""
    return prefix == "" or area == prefix or area.startswith(prefix + SEPARATOR)


@dataclass
class ChatRouter:
    """A :class:`ChatProvider` over the area robots and the global ones."""

    #: The global robots, in the table's order.
    robots: list[ChatProvider]
    #: Area prefix (as ``area_key``) → its robot.
    areas: dict[str, ChatProvider] = field(default_factory=dict)
    name: str = "chat-router"

    def robot_for(self, message: Outgoing) -> tuple[str | None, ChatProvider | None]:
        """The matched area prefix (None: the global robot) and the robot for ``message``."""
        area = area_key(message.facts.area if message.facts is not None else "")
        # A channel named after a provider (``dingtalk``) posts only through that provider's robots.
        named = message.channel is not Channel.GROUP
        for prefix in sorted(self.areas, key=len, reverse=True):
            robot = self.areas[prefix]
            if covers(prefix, area) and (not named or robot.name == message.channel.value):
                return prefix, robot
        robots = [r for r in self.robots if named and r.name == message.channel.value] or self.robots
        return None, (robots[0] if robots else None)

    async def post(self, message: Outgoing) -> Sent:
        prefix, robot = self.robot_for(message)
        if robot is None:
            area = area_key(message.facts.area if message.facts is not None else "")
            raise DeliveryFailed(f"no group chat robot for area {area!r}", retryable=False, code="no_robot")
        if prefix is not None:
            log.debug("notification %s posts to the group of area %r", message.notification_id, prefix)
        return await robot.post(message)

    async def aclose(self) -> None:
        seen: set[int] = set()
        for robot in [*self.robots, *self.areas.values()]:
            if id(robot) not in seen:
                seen.add(id(robot))
                await robot.aclose()


def build_chat_router(
    settings: Settings, robots: dict[str, ChatProvider], args: BuildArgs
) -> ChatRouter | None:
    """The global ``robots`` and the area robots of ``ANJU_CHAT_ROUTES``; None when there are none.

    A route naming an unknown provider, or a robot without its credentials, stops the start
    (``ConfigError``) rather than leave an area's posts going nowhere.
    """
    routes = ChatRoutingSettings.from_settings(settings).routes
    specs = {spec.name: spec for spec in PROVIDERS if spec.serves(Capability.GROUP) and not spec.dev_only}
    areas: dict[str, ChatProvider] = {}
    for raw_prefix, entry in routes.items():
        where = f"ANJU_CHAT_ROUTES[{raw_prefix!r}]"
        fields: dict[str, object] = dict(entry)
        name = str(fields.pop("provider", ""))
        spec = specs.get(name)
        if spec is None:
            raise ConfigError(f"{where}: {name!r} is not a group chat provider ({', '.join(sorted(specs))})")
        if not fields:
            if name not in robots:
                raise ConfigError(f"{where} uses the global {name} robot, which is not configured")
            areas[area_key(raw_prefix)] = robots[name]
            continue
        try:
            robot_settings = spec.settings.from_settings(settings).for_route(fields)
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from err
        if not robot_settings.configured():
            raise ConfigError(f"{where}: the {name} robot's credentials are missing")
        robot = spec.build(robot_settings, args)
        assert isinstance(robot, ChatProvider)
        areas[area_key(raw_prefix)] = robot
    if not robots and not areas:
        return None
    return ChatRouter(robots=list(robots.values()), areas=areas)


def group_chat_configured(settings: Settings) -> bool:
    """Whether any group chat robot (global or an area's) is configured."""
    if ChatRoutingSettings.from_settings(settings).routes:
        return True
    specs = (spec for spec in PROVIDERS if spec.serves(Capability.GROUP) and not spec.dev_only)
    return any(spec.settings.from_settings(settings).configured() for spec in specs)
