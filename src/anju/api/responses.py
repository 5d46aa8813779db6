"""The error answers every route documents in OpenAPI, so a client (and schemathesis) knows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DESCRIPTIONS = {
    400: "Malformed request (请求格式错误)",
    401: "Not signed in, or the token expired or was revoked (未登录或登录已失效)",
    403: "Signed in, but this role may not do this, or a CSRF or signature check failed (无权限)",
    404: "No such record (记录不存在)",
    409: "The request contradicts the current state (与当前状态冲突)",
    412: "The record changed since it was read (记录已被修改)",
    422: "A value is missing, malformed or out of range (参数无效或超出范围)",
    429: "Too many failed sign-ins: wait Retry-After seconds (登录失败次数过多)",
    502: "The voice provider refused or did not answer (语音通道拒绝或无响应)",
}


class Problem(BaseModel):
    """An error answer: ``detail`` is a sentence (English and zh-CN) or the list of invalid fields."""

    detail: str | list[dict[str, Any]]


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: each code with its description and the ``Problem`` body."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": Problem, "description": _DESCRIPTIONS[code]}
        if code == 429:
            entry["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before the next try",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        out[code] = entry
    return out


#: What every route behind sign-in may answer besides its own success (400: a body that is not UTF-8).
SIGNED_IN = problems(400, 401, 403, 422)
