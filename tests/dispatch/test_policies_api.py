"""The escalation policy API: read raw and parsed, replace atomically with validation, audited.

Every test works on a private copy of rules/ (``settings.rules_dir``), never on the repository's.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.config import PROJECT_ROOT
from anju.context import Context
from anju.dispatch import escalation, policy_file, service
from anju.dispatch.policy import current_policies
from anju.domain import Role, Severity
from anju.store.db import transaction
from anju.store.models import Incident
from tests.support.admin import chain_ok, copy_rules, last_audit_id, records, repo_escalation_sha
from tests.support.dispatch import add_household, add_user, client, finding
from tests.support.settings import make_settings

TOML = {"Content-Type": "application/toml"}

#: The files of the shipped rules/ folder: a policy update leaves no other file (no temporary copy).
SHIPPED_RULE_FILES = sorted(p.name for p in (PROJECT_ROOT / "rules").iterdir())


@dataclasses.dataclass
class Env:
    ctx: Context
    rules: Path
    admin: dict[str, str]
    admin_name: str

    @property
    def path(self) -> Path:
        return self.rules / "escalation.toml"


async def _env(url: str, tmp_path: Path, clock: SimClock) -> AsyncIterator[Env]:
    before = repo_escalation_sha()
    rules = copy_rules(tmp_path)
    ctx = Context.create(make_settings(url, rules_dir=rules), clock=clock)
    try:
        admin, headers = await add_user(ctx, Role.ADMIN)
        yield Env(ctx=ctx, rules=rules, admin=headers, admin_name=admin.username)
    finally:
        await ctx.close()
    assert repo_escalation_sha() == before, "a test wrote to the repository's rules/"


@pytest.fixture
async def env(db_url: str, tmp_path: Path, sim_clock: SimClock) -> AsyncIterator[Env]:
    """Both backends: for the tests whose audit record or transaction matters."""
    async for e in _env(db_url, tmp_path, sim_clock):
        yield e


@pytest.fixture
async def lite(sqlite_url: str, tmp_path: Path, sim_clock: SimClock) -> AsyncIterator[Env]:
    """SQLite only: for request handling that does not depend on the database."""
    async for e in _env(sqlite_url, tmp_path, sim_clock):
        yield e


def _faster_supervisor_call(text: str) -> str:
    """The shipped file with the critical supervisor call moved from 60 s to 30 s."""
    old = 'name = "call_supervisor"\nafter_s = 60\n'
    assert text.count(old) == 1
    return text.replace(old, 'name = "call_supervisor"\nafter_s = 30\n')


async def _put(
    http: httpx.AsyncClient, headers: dict[str, str], body: str | bytes, **extra: str
) -> httpx.Response:
    return await http.put("/api/v1/policies/escalation", content=body, headers={**headers, **TOML, **extra})


async def test_supervisor_reads_the_policy_file_as_stored_with_its_hash_and_the_parsed_policies(
    lite: Env,
) -> None:
    _, supervisor = await add_user(lite.ctx, Role.SUPERVISOR)
    text = lite.path.read_text(encoding="utf-8")
    async with client(lite.ctx) as http:
        response = await http.get("/api/v1/policies/escalation", headers=supervisor)
    assert response.status_code == 200, response.text
    body = response.json()
    sha = hashlib.sha256(text.encode()).hexdigest()
    assert body["toml"] == text and body["sha256"] == sha and body["error"] is None
    assert response.headers["ETag"] == f'"{sha}"'
    critical = body["policies"]["policies"]["critical"]
    assert [s["name"] for s in critical["steps"]] == ["notify_duty", "call_supervisor", "call_contacts"]
    assert critical["steps"][1] == {
        "name": "call_supervisor",
        "after_s": 60,
        "notify": [
            {"to": "oncall_supervisor", "channel": "voice", "every_s": 0},
            {"to": "area_group", "channel": "group", "every_s": 0},
        ],
    }
    assert critical["repeat_every_s"] == 300
    assert body["policies"]["follow_up"]["taken_to_hospital"] == 24
    assert body["policies"]["oncall"]["duty_phone"] == "+8613800000001"


async def test_admin_replaces_the_policy_atomically_and_one_audit_record_holds_both_hashes_and_the_diff(
    env: Env,
) -> None:
    old_text = env.path.read_text(encoding="utf-8")
    new_text = _faster_supervisor_call(old_text)
    before_id = await last_audit_id(env.ctx)
    assert current_policies(env.path).by_severity  # the runtime's cache holds the old file now
    async with client(env.ctx) as http:
        response = await _put(http, env.admin, new_text.encode())
    assert response.status_code == 200, response.text
    body = response.json()
    new_sha = hashlib.sha256(new_text.encode()).hexdigest()
    assert body["changed"] is True and body["sha256"] == new_sha and body["toml"] == new_text
    assert env.path.read_text(encoding="utf-8") == new_text
    assert sorted(p.name for p in env.rules.iterdir()) == SHIPPED_RULE_FILES
    (rec,) = await records(env.ctx, after_id=before_id)
    assert rec.id == body["audit_id"]
    assert (rec.action, rec.actor, rec.entity, rec.entity_id) == (
        "policy.escalation_update",
        env.admin_name,
        "policy",
        "escalation.toml",
    )
    assert rec.content["before_sha256"] == hashlib.sha256(old_text.encode()).hexdigest()
    assert rec.content["after_sha256"] == new_sha
    diff_lines = rec.content["diff"].splitlines()
    assert "--- a/escalation.toml" in diff_lines and "+++ b/escalation.toml" in diff_lines
    assert "-after_s = 60" in diff_lines and "+after_s = 30" in diff_lines
    assert sum(1 for line in diff_lines if line[:1] in "+-" and line[:3] not in ("+++", "---")) == 2
    await chain_ok(env.ctx)
    # The runtime reads the file through its cache: the change is picked up at once.
    critical = current_policies(env.path).by_severity[Severity.CRITICAL]
    assert [step.after_s for step in critical.steps] == [0, 30, 180]


@pytest.mark.parametrize(
    ("case", "body", "reason"),
    [
        ("toml syntax", b'[policies.critical\nname = "x"', "not valid TOML"),
        ("a severity missing", b"[policies.critical]\n", "missing for severity"),
        (
            "console channel for a phone",
            (
                b"[[policies.critical.steps]]\nname='a'\nafter_s=0\nnotify=[{to='oncall_phone',channel='console'}]\n"
                + b"".join(
                    f"[[policies.{s}.steps]]\nname='a'\nafter_s=0\nnotify=[{{to='duty_operators',channel='console'}}]\n".encode()
                    for s in ("high", "medium", "low")
                )
            ),
            "oncall_phone is reached by sms or voice",
        ),
        ("not utf-8", "[oncall]\nduty_name = '值班'\n".encode("gb18030"), "must be UTF-8"),
        ("too big", b"#" * (policy_file.MAX_BYTES + 10), "at most 65536"),
        ("empty", b"", "missing for severity"),
    ],
)
async def test_an_invalid_policy_is_refused_with_the_parser_reason_and_nothing_changes(
    lite: Env, case: str, body: bytes, reason: str
) -> None:
    old_bytes = lite.path.read_bytes()
    before_id = await last_audit_id(lite.ctx)
    async with client(lite.ctx) as http:
        response = await _put(http, lite.admin, body)
    assert response.status_code == 422, (case, response.text)
    assert reason in response.json()["detail"], (case, response.json())
    assert lite.path.read_bytes() == old_bytes
    assert await records(lite.ctx, after_id=before_id) == []
    assert sorted(p.name for p in lite.rules.iterdir()) == SHIPPED_RULE_FILES


async def test_json_is_refused_with_415_naming_the_toml_content_type(lite: Env) -> None:
    async with client(lite.ctx) as http:
        response = await http.put("/api/v1/policies/escalation", json={"policies": {}}, headers=lite.admin)
    assert response.status_code == 415 and "application/toml" in response.json()["detail"]


async def test_an_edit_based_on_a_replaced_version_is_412_and_changes_nothing(lite: Env) -> None:
    text = lite.path.read_text(encoding="utf-8")
    read_sha = hashlib.sha256(text.encode()).hexdigest()
    async with client(lite.ctx) as http:
        first = await _put(http, lite.admin, _faster_supervisor_call(text), **{"If-Match": f'"{read_sha}"'})
        assert first.status_code == 200, first.text
        after_first = lite.path.read_bytes()
        before_id = await last_audit_id(lite.ctx)
        stale = await _put(http, lite.admin, text + "\n# mine\n", **{"If-Match": f'"{read_sha}"'})
    assert stale.status_code == 412 and "changed since you read it" in stale.json()["detail"]
    assert lite.path.read_bytes() == after_first
    assert await records(lite.ctx, after_id=before_id) == []


async def test_sending_the_current_text_again_changes_nothing_and_records_nothing(lite: Env) -> None:
    before_id = await last_audit_id(lite.ctx)
    async with client(lite.ctx) as http:
        response = await _put(http, lite.admin, lite.path.read_bytes())
    assert response.status_code == 200 and response.json()["changed"] is False
    assert response.json()["audit_id"] is None
    assert await records(lite.ctx, after_id=before_id) == []


async def test_without_a_policy_file_get_is_404_with_the_fallback_named_and_put_creates_it(lite: Env) -> None:
    text = lite.path.read_text(encoding="utf-8")
    lite.path.unlink()
    async with client(lite.ctx) as http:
        missing = await http.get("/api/v1/policies/escalation", headers=lite.admin)
        assert missing.status_code == 404 and "built-in fallback" in missing.json()["detail"]
        created = await _put(http, lite.admin, text)
    assert created.status_code == 200 and lite.path.read_text(encoding="utf-8") == text
    (rec,) = await records(lite.ctx, action="policy.escalation_update")
    assert rec.content["before_sha256"] is None
    assert rec.content["after_sha256"] == hashlib.sha256(text.encode()).hexdigest()


async def test_a_broken_file_edited_by_hand_is_shown_with_the_parser_reason(lite: Env) -> None:
    lite.path.write_text("[policies.critical]\n", encoding="utf-8")
    async with client(lite.ctx) as http:
        response = await http.get("/api/v1/policies/escalation", headers=lite.admin)
    assert response.status_code == 200
    assert response.json()["policies"] is None
    assert "missing for severity" in response.json()["error"]


async def test_an_edit_whose_transaction_rolls_back_puts_the_previous_file_back(env: Env) -> None:
    old_text = env.path.read_text(encoding="utf-8")
    new_text = _faster_supervisor_call(old_text)
    before_id = await last_audit_id(env.ctx)
    with pytest.raises(RuntimeError, match="after the write"):
        async with transaction(env.ctx.db) as session:
            await policy_file.replace_policy_file(
                session, path=env.path, text=new_text, actor="test", now=env.ctx.clock.now()
            )
            assert env.path.read_text(encoding="utf-8") == new_text
            raise RuntimeError("the request failed after the write")
    assert env.path.read_text(encoding="utf-8") == old_text
    assert await records(env.ctx, after_id=before_id) == []
    await chain_ok(env.ctx)


async def test_a_policy_put_never_changes_an_incident_in_flight_only_incidents_opened_afterwards(
    env: Env,
) -> None:
    clock = env.ctx.clock
    assert isinstance(clock, SimClock)
    early, late = await add_household(env.ctx), await add_household(env.ctx)
    async with transaction(env.ctx.db) as session:
        opened = await service.raise_findings(
            session, [finding(early.id, at=clock.now())], now=clock.now(), policies=current_policies(env.path)
        )
    in_flight = opened.opened[0].id
    async with env.ctx.db() as session:
        row = await session.get(Incident, in_flight)
        assert row is not None
        frozen, frozen_due = row.escalation_policy, row.next_escalation_at
    assert frozen["steps"][1]["after_s"] == 60

    async with client(env.ctx) as http:
        response = await _put(http, env.admin, _faster_supervisor_call(env.path.read_text(encoding="utf-8")))
    assert response.status_code == 200, response.text

    async with transaction(env.ctx.db) as session:
        opened = await service.raise_findings(
            session, [finding(late.id, at=clock.now())], now=clock.now(), policies=current_policies(env.path)
        )
    after_edit = opened.opened[0].id
    async with env.ctx.db() as session:
        old_row, new_row = await session.get(Incident, in_flight), await session.get(Incident, after_edit)
        assert old_row is not None and new_row is not None
        assert old_row.escalation_policy == frozen and old_row.next_escalation_at == frozen_due
        assert new_row.escalation_policy["steps"][1]["after_s"] == 30

    # And the timers follow each incident's own copy: at 30 s only the newer one calls the supervisor.
    clock.advance(30)
    await escalation.run_due_escalations(env.ctx, clock.now(), policies=current_policies(env.path))
    assert await _steps(env.ctx, in_flight, after_edit) == {in_flight: 1, after_edit: 2}
    clock.advance(30)
    await escalation.run_due_escalations(env.ctx, clock.now(), policies=current_policies(env.path))
    assert (await _steps(env.ctx, in_flight, after_edit))[in_flight] == 2


async def _steps(ctx: Context, *incident_ids: int) -> dict[int, int]:
    """How many escalation steps each incident has fired."""
    async with ctx.db() as session:
        rows = await session.execute(
            select(Incident.id, Incident.escalation_step).where(Incident.id.in_(incident_ids))
        )
        return {incident_id: step for incident_id, step in rows.all()}
