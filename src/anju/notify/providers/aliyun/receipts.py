"""Aliyun's HTTP receipt pushes (SmsReport, SmsUp, VoiceReport, VoiceCallReport) read into our terms.

Each push is a JSON array of objects; anything else, or an item without what we need, is skipped
(and logged) rather than failing the batch: Aliyun would push the whole batch again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anju.domain import NotificationStatus
from anju.notify.providers.aliyun.client import parse_out_id

#: VoiceReport's ``status_code`` for a call that was answered and heard; any other is not reached.
CALL_HEARD = "200000"
#: VoiceCallReport's ``status_code`` of the event that carries the keys pressed (``dtmf``).
KEYS_PRESSED = "300000"
#: Codes Aliyun documents for a busy line; any other failure counts as not answered.
CALL_BUSY = frozenset({"200002", "200003"})


@dataclass(frozen=True)
class Receipt:
    """One item of a push: which row, what happened, the provider's id and error, keys pressed."""

    notification_id: int
    status: NotificationStatus | None
    provider_id: str | None
    error: str | None = None
    dtmf: str = ""


@dataclass(frozen=True)
class Upstream:
    """An SMS sent to our signature's number (SmsUp)."""

    phone: str
    content: str


def items(payload: Any) -> list[dict[str, Any]]:
    """The objects of a push; a single object is taken as a batch of one."""
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        return []
    return [item for item in payload if isinstance(item, dict)]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def sms_report(item: dict[str, Any]) -> Receipt | None:
    row = parse_out_id(item.get("out_id"))
    if row is None:
        return None
    success = item.get("success")
    delivered = success is True or _text(success).lower() == "true"
    status = NotificationStatus.DELIVERED if delivered else NotificationStatus.UNDELIVERED
    error = None if delivered else _text(item.get("err_code")) or "unknown"
    return Receipt(row, status, _text(item.get("biz_id")) or None, error)


def voice_report(item: dict[str, Any]) -> Receipt | None:
    """The call's end: heard, busy, or not reached (with the keys, if any were pressed)."""
    row = parse_out_id(item.get("out_id"))
    if row is None:
        return None
    code = _text(item.get("status_code"))
    if code == CALL_HEARD:
        status, error = NotificationStatus.ANSWERED, None
    else:
        status = NotificationStatus.BUSY if code in CALL_BUSY else NotificationStatus.NO_ANSWER
        error = f"{code} {_text(item.get('status_msg'))}".strip() or "unknown"
    return Receipt(row, status, _text(item.get("call_id")) or None, error, _text(item.get("dtmf")))


def voice_call_report(item: dict[str, Any]) -> Receipt | None:
    """A call's progress; only the event with keys pressed matters to us."""
    row = parse_out_id(item.get("out_id"))
    if row is None:
        return None
    dtmf = _text(item.get("dtmf"))
    return Receipt(row, None, _text(item.get("call_id")) or None, None, dtmf)


def sms_up(item: dict[str, Any]) -> Upstream | None:
    phone, content = _text(item.get("phone_number")), _text(item.get("content"))
    if not phone:
        return None
    return Upstream(phone, content)
