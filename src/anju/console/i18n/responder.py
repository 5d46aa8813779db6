"""The responder's phone page, reached by the link in an SMS."""

from __future__ import annotations

#: key -> (zh-CN, English), as in ``anju.console.i18n.CATALOG``.
ENTRIES: dict[str, tuple[str, str]] = {
    # responder page
    "responder.title": ("现场处置", "On-site response"),
    "responder.for": ("{name}，您好", "For {name}"),
    "responder.valid_until": ("链接有效期至 {time}", "link valid until {time}"),
    "responder.center": ("值班中心", "the center"),
    "responder.call": ("拨打 {name}", "Call {name}"),
    "responder.no_tasks": (
        "目前没有派给您的事件。值班员派遣后会出现在这里。",
        "Nothing is dispatched to you now. Incidents appear here when the center dispatches you.",
    ),
    "responder.earlier": ("已处理的事件", "Earlier incidents"),
    "responder.nothing_to_do": (
        "此事件目前无需您操作。谢谢！",
        "Nothing for you to do on this incident now. Thank you!",
    ),
}
