"""What a group-chat robot's webhook answered (DingTalk and WeCom answer alike: ``errcode``/``errmsg``)."""

from __future__ import annotations

from collections.abc import Callable, Collection

import httpx

from anju.domain import NotificationStatus
from anju.errors import DeliveryFailed
from anju.notify.provider import Sent


def robot_answer(
    response: httpx.Response,
    *,
    vendor: str,
    provider: str,
    provider_id: str,
    retryable_codes: Collection[int],
    redact: Callable[[str], str] = str,
) -> Sent:
    """The post as sent, or ``DeliveryFailed`` saying why (server errors and throttling are retried)."""
    if response.status_code >= 500 or response.status_code == 429:
        raise DeliveryFailed(f"{vendor} HTTP {response.status_code}", retryable=True, code="http")
    try:
        answer = response.json()
        errcode = int(answer.get("errcode", -1))
    except (ValueError, TypeError, AttributeError) as err:
        raise DeliveryFailed(
            f"{vendor} answered HTTP {response.status_code} without JSON", retryable=True, code="http"
        ) from err
    if errcode != 0:
        errmsg = redact(str(answer.get("errmsg", "")))[:200]
        raise DeliveryFailed(
            f"{vendor} refused the post (errcode {errcode}): {errmsg}",
            retryable=errcode in retryable_codes,
            code=str(errcode),
        )
    return Sent(provider=provider, provider_id=provider_id, status=NotificationStatus.SENT, tracked=False)
