"""Editing ``rules/escalation.toml`` through the API: validated, written atomically, audited.

The file stays the one source of truth (care managers may still edit it by hand); the API swaps it
whole. A new text is checked by the same parser the runtime uses, written to a temporary file in the
same folder and moved over the old one (``os.replace``), so a reader sees the old file or the new one,
never half of each. The audit record (hashes before and after, unified diff) is written in the
caller's transaction; if that transaction rolls back, the previous file is put back.

Incidents in flight are unaffected: each holds the copy of its policy made when it opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import hashlib
import os
import stat
import tempfile
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from anju import audit
from anju.dispatch.policy import Policies, parse_policies
from anju.errors import AnjuError, ProfileError

FILE_NAME = "escalation.toml"
#: A policy file is a few kilobytes; anything this big is a mistake (or an attack), not a policy.
MAX_BYTES = 64 * 1024
AUDIT_ACTION = "policy.escalation_update"


class StaleEdit(AnjuError):
    """The file changed since the editor read it (``If-Match`` names an older version)."""


@dataclass(frozen=True, kw_only=True)
class PolicyFile:
    """The file as it is now: its text and hash, and either the parsed policies or the parser's reason."""

    path: Path
    text: str
    sha256: str
    policies: Policies | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class PolicyEdit:
    before_sha256: str | None
    after_sha256: str
    changed: bool
    audit_id: int | None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_text(text: str) -> Policies:
    """The policies in ``text``; ``ProfileError`` with the reason (TOML syntax included)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"not valid TOML: {err}") from err
    return parse_policies(data)


def decode(body: bytes) -> str:
    """The request body as text; ``ProfileError`` when it is too big or not UTF-8."""
    if len(body) > MAX_BYTES:
        raise ProfileError(f"the policy file is {len(body)} bytes; at most {MAX_BYTES} are accepted")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProfileError(f"the policy file must be UTF-8 text: {err}") from err


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None


def read_policy_file(path: Path) -> PolicyFile | None:
    """The current file, or None when there is none; a broken file comes back with its reason."""
    text = _read(path)
    if text is None:
        return None
    try:
        return PolicyFile(path=path, text=text, sha256=sha256(text), policies=parse_text(text), error=None)
    except ProfileError as err:
        return PolicyFile(path=path, text=text, sha256=sha256(text), policies=None, error=str(err))


def as_document(policies: Policies) -> dict[str, Any]:
    """The parsed policies in the shape of the TOML document (defaults filled in)."""
    return {
        "oncall": {
            "duty_name": policies.oncall.duty_name,
            "duty_phone": policies.oncall.duty_phone,
            "supervisor_name": policies.oncall.supervisor_name,
            "supervisor_phone": policies.oncall.supervisor_phone,
            "language": policies.oncall.language,
        },
        "policies": {
            severity.value: {
                "repeat_every_s": policy.repeat_every_s,
                "repeat_from": policy.repeat_from,
                "steps": [
                    {
                        "name": step.name,
                        "after_s": step.after_s,
                        "notify": [
                            {"to": n.to.value, "channel": n.channel.value, "every_s": n.every_s}
                            for n in step.notify
                        ],
                    }
                    for step in policy.steps
                ],
            }
            for severity, policy in policies.by_severity.items()
        },
        "follow_up": {outcome.value: hours for outcome, hours in policies.follow_up_hours.items()},
    }


def _write_atomically(path: Path, text: str) -> None:
    """Temp file in the same folder, fsync, ``os.replace``: readers see the old file or the new one."""
    old = path.stat() if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(old.st_mode) if old else 0o644)
        if old is not None:
            # Readers cache the parsed file by modification time, which the file system keeps only to
            # a few milliseconds: make sure the new file's time moves forward, so every reader, in
            # this process or another, picks the change up.
            at = max(time.time_ns(), old.st_mtime_ns + 1_000_000)
            os.utime(tmp, ns=(at, at))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


def _restore(path: Path, before: str | None) -> None:
    if before is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    else:
        _write_atomically(path, before)


def _restore_on_rollback(session: AsyncSession, path: Path, before: str | None) -> None:
    """Put the previous file back if the transaction holding the audit record does not commit."""
    settled = False

    def committed(_: Session) -> None:
        nonlocal settled
        settled = True

    def rolled_back(_: Session) -> None:
        nonlocal settled
        if not settled:
            settled = True
            _restore(path, before)

    event.listen(session.sync_session, "after_commit", committed, once=True)
    event.listen(session.sync_session, "after_rollback", rolled_back, once=True)


async def replace_policy_file(
    session: AsyncSession,
    *,
    path: Path,
    text: str,
    actor: str,
    now: datetime,
    if_match: str | None = None,
) -> PolicyEdit:
    """Validate ``text`` and make it the policy file, audited in the caller's transaction.

    ``ProfileError`` when the text is not a valid policy file (nothing is written); ``StaleEdit``
    when ``if_match`` is given and is not the hash of the current file. Sending the current text
    again changes nothing and records nothing.
    """
    parse_text(text)
    # The chain lock serialises editors (in every process), so before/after hashes form one line.
    await audit.lock_chain(session)
    before = await asyncio.to_thread(_read, path)
    before_sha = sha256(before) if before is not None else None
    if if_match is not None and if_match != before_sha:
        raise StaleEdit(
            f"the policy file changed since you read it (now {before_sha or 'absent'}): reload and edit again"
        )
    after_sha = sha256(text)
    if before == text:
        return PolicyEdit(before_sha256=before_sha, after_sha256=after_sha, changed=False, audit_id=None)
    diff = "".join(
        difflib.unified_diff(
            (before or "").splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"a/{path.name}",
            tofile=f"b/{path.name}",
        )
    )
    rec = await audit.record(
        session,
        at=now,
        actor=actor,
        action=AUDIT_ACTION,
        entity="policy",
        entity_id=path.name,
        content={"file": path.name, "before_sha256": before_sha, "after_sha256": after_sha, "diff": diff},
    )
    await asyncio.to_thread(_write_atomically, path, text)
    _restore_on_rollback(session, path, before)
    return PolicyEdit(before_sha256=before_sha, after_sha256=after_sha, changed=True, audit_id=rec.id)
