"""Routes: the escalation policy file (supervisors and admins read it; admins replace it).

``PUT`` takes the TOML text itself (``Content-Type: application/toml`` or ``text/plain``), not JSON:
the file is what care managers read and edit, and its comments explain each step, so the API keeps
them. The response of either route is the file as it now is: raw text, SHA-256 (also the ``ETag``)
and the parsed policies. Send ``If-Match: <sha256>`` with a ``PUT`` to refuse (412) an edit based
on a version someone else has since replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from pydantic import BaseModel

from anju.api.responses import SIGNED_IN, problems
from anju.dispatch import policy_file
from anju.errors import ProfileError
from anju.web.deps import Admin, CtxDep, SessionDep, Supervisor

router = APIRouter(prefix="/policies", tags=["policies"], responses=SIGNED_IN)

_TOML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the whole escalation.toml, UTF-8, at most 64 KiB",
        "content": {
            "application/toml": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


class EscalationPolicyRead(BaseModel):
    #: The file's name inside the rules folder.
    file: str
    sha256: str
    #: The file exactly as stored, comments included.
    toml: str
    #: The parsed policies in the shape of the TOML document; null when the file does not parse.
    policies: dict[str, Any] | None
    #: Why the file does not parse (the runtime then keeps its last good version).
    error: str | None = None
    #: Whether this ``PUT`` changed the file (always false on ``GET``).
    changed: bool = False
    #: The audit record of this ``PUT``.
    audit_id: int | None = None


async def _body(request: Request) -> bytes:
    """The body, read no further than one byte past the limit (``decode`` then refuses it)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > policy_file.MAX_BYTES:
            break
    return b"".join(chunks)


def _path(ctx: CtxDep) -> Path:
    return Path(ctx.settings.rules_dir) / policy_file.FILE_NAME


def _read(path: Path, response: Response) -> EscalationPolicyRead:
    current = policy_file.read_policy_file(path)
    if current is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no {path.name} in the rules folder: incidents open with the built-in fallback"
            " (console only, repeated every 5 min) until an admin uploads one",
        )
    response.headers["ETag"] = f'"{current.sha256}"'
    return EscalationPolicyRead(
        file=path.name,
        sha256=current.sha256,
        toml=current.text,
        policies=policy_file.as_document(current.policies) if current.policies else None,
        error=current.error,
    )


@router.get("/escalation", response_model=EscalationPolicyRead)
async def get_escalation_policy(ctx: CtxDep, _user: Supervisor, response: Response) -> EscalationPolicyRead:
    """The escalation policy file: raw TOML, its hash and the parsed policies (supervisors, admins)."""
    return _read(_path(ctx), response)


@router.put(
    "/escalation",
    response_model=EscalationPolicyRead,
    openapi_extra=_TOML_BODY,
    responses=problems(412),
)
async def put_escalation_policy(
    request: Request,
    response: Response,
    ctx: CtxDep,
    session: SessionDep,
    admin: Admin,
    if_match: Annotated[str | None, Header(description="the sha256 the edit was based on")] = None,
) -> EscalationPolicyRead:
    """Replace the escalation policy file with the TOML text sent (admins); 422 with the reason if invalid.

    Incidents already open keep the copy of the policy they opened with.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "send the TOML text itself with Content-Type: application/toml",
        )
    path = _path(ctx)
    try:
        text = policy_file.decode(await _body(request))
        edit = await policy_file.replace_policy_file(
            session,
            path=path,
            text=text,
            actor=admin.username,
            now=ctx.clock.now(),
            if_match=if_match.strip().strip('"') if if_match else None,
        )
    except ProfileError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    except policy_file.StaleEdit as err:
        raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, str(err)) from err
    read = _read(path, response)
    return read.model_copy(update={"changed": edit.changed, "audit_id": edit.audit_id})
