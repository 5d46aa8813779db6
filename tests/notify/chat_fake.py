"""A local server speaking the WeCom and DingTalk group robot APIs, checking each request's shape.

WeCom: ``POST /cgi-bin/webhook/send?key=KEY`` with a JSON ``markdown`` message of at most 4096
bytes; an unknown key is errcode 93000, as WeCom answers. DingTalk: ``POST /robot/send?
access_token=T&timestamp=MS&sign=S`` whose ``sign`` must be the HMAC-SHA256 of the robot's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.twilio_fake import free_port


@dataclass(frozen=True)
class Post:
    """One accepted post: which robot (WeCom key or DingTalk token) and its JSON body."""

    robot: str
    body: dict[str, Any]

    @property
    def text(self) -> str:
        kind = self.body["msgtype"]
        return str(self.body[kind]["content"])


class ChatFake:
    def __init__(self, *, wecom_keys: set[str], dingtalk: dict[str, str] | None = None) -> None:
        self.wecom_keys = wecom_keys
        #: DingTalk access token → its 加签 secret.
        self.dingtalk = dingtalk or {}
        self.posts: list[Post] = []
        self.refused: list[tuple[str, str]] = []
        #: errcodes to answer next, one per request, before anything else.
        self.errcodes: deque[int] = deque()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None

    async def start(self) -> ChatFake:
        app = web.Application()
        app.router.add_post("/cgi-bin/webhook/send", self._wecom)
        app.router.add_post("/robot/send", self._dingtalk)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def of(self, robot: str) -> list[Post]:
        return [p for p in self.posts if p.robot == robot]

    def _refuse(self, why: str, errcode: int, robot: str) -> web.Response:
        self.refused.append((robot, why))
        return web.json_response({"errcode": errcode, "errmsg": why})

    async def _body(self, request: web.Request) -> dict[str, Any] | None:
        if request.content_type != "application/json":
            return None
        try:
            body = json.loads(await request.text())
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _wecom(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        if key not in self.wecom_keys:
            return self._refuse(f"invalid webhook url, key={key}", 93000, key)
        if self.errcodes:
            return self._refuse("api freq out of limit", self.errcodes.popleft(), key)
        body = await self._body(request)
        if body is None or body.get("msgtype") != "markdown":
            return self._refuse("invalid message type", 40008, key)
        content = (body.get("markdown") or {}).get("content")
        if not isinstance(content, str) or not content:
            return self._refuse("empty content", 44004, key)
        if len(content.encode()) > 4096:
            return self._refuse("markdown.content exceed max length 4096", 40058, key)
        self.posts.append(Post(key, body))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _dingtalk(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        secret = self.dingtalk.get(token)
        if secret is None:
            return self._refuse("token is not exist", 300001, token)
        timestamp = request.query.get("timestamp", "")
        digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        if request.query.get("sign", "") != base64.b64encode(digest).decode():
            return self._refuse("sign not match", 310000, token)
        body = await self._body(request)
        if body is None or body.get("msgtype") not in ("text", "markdown"):
            return self._refuse("invalid msgtype", 40008, token)
        self.posts.append(Post(token, body))
        return web.json_response({"errcode": 0, "errmsg": "ok"})
