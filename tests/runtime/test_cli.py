"""The `anju` command line: db upgrade, user add, audit verify, and the refusal to run unsafely."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from anju.accounts import verify_password
from anju.store.db import create_engine, session_factory
from anju.store.models import AuditRecord, User

PASSWORD = "long-enough-pw\n"


def anju(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ANJU_")} | env
    return subprocess.run(
        [sys.executable, "-m", "anju.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"ANJU_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}


async def test_db_upgrade_then_user_add_creates_an_argon2_hashed_user(sqlite_env: dict[str, str]) -> None:
    up = anju("db", "upgrade", env=sqlite_env)
    assert up.returncode == 0, up.stderr
    assert "up to date" in up.stdout
    added = anju("user", "add", "wang", "--role", "operator", env=sqlite_env, stdin="correct-horse-9\n")
    assert added.returncode == 0, added.stderr
    engine = create_engine(sqlite_env["ANJU_DATABASE_URL"])
    try:
        async with session_factory(engine)() as session:
            user = await session.scalar(select(User).where(User.username == "wang"))
            assert user is not None and user.role == "operator"
            assert user.password_hash.startswith("$argon2")
            assert verify_password(user.password_hash, "correct-horse-9")
            actions = (await session.scalars(select(AuditRecord.action))).all()
            assert "user.create" in actions
    finally:
        await engine.dispose()


def test_user_add_refuses_a_taken_name_and_a_short_password(sqlite_env: dict[str, str]) -> None:
    assert anju("db", "upgrade", env=sqlite_env).returncode == 0
    assert anju("user", "add", "li", "--role", "supervisor", env=sqlite_env, stdin=PASSWORD).returncode == 0
    again = anju("user", "add", "li", "--role", "supervisor", env=sqlite_env, stdin=PASSWORD)
    assert again.returncode == 2 and "already exists" in again.stderr
    short = anju("user", "add", "zhao", "--role", "operator", env=sqlite_env, stdin="abc\n")
    assert short.returncode == 2 and "at least 10" in short.stderr


def test_user_add_refuses_an_unknown_role(sqlite_env: dict[str, str]) -> None:
    bad = anju("user", "add", "x", "--role", "janitor", env=sqlite_env, stdin=PASSWORD)
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr


def test_run_refuses_to_start_without_a_real_secret(sqlite_env: dict[str, str]) -> None:
    result = anju("run", env=sqlite_env | {"ANJU_MQTT_URL": "mqtt://127.0.0.1:1883"})
    assert result.returncode == 2
    assert "ANJU_SECRET_KEY" in result.stderr


def test_run_refuses_to_start_on_an_unmigrated_database(sqlite_env: dict[str, str]) -> None:
    env = sqlite_env | {"ANJU_MQTT_URL": "mqtt://127.0.0.1:1883", "ANJU_SECRET_KEY": "x" * 32}
    result = anju("run", env=env)
    assert result.returncode == 2
    assert "anju db upgrade" in result.stderr


def test_audit_verify_reports_an_intact_chain(sqlite_env: dict[str, str]) -> None:
    assert anju("db", "upgrade", env=sqlite_env).returncode == 0
    assert anju("user", "add", "a1", "--role", "admin", env=sqlite_env, stdin=PASSWORD).returncode == 0
    result = anju("audit", "verify", env=sqlite_env)
    assert result.returncode == 0, result.stderr
    assert "1 records verified" in result.stdout


def test_demo_refuses_a_taken_port_with_the_reason(sqlite_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = anju("demo", "--households", "1", "--port", str(port), "--mqtt-port", "0", env=sqlite_env)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr


def test_audit_verify_without_a_database_says_so_and_creates_none(tmp_path: Path) -> None:
    db = tmp_path / "absent.db"
    result = anju("audit", "verify", env={"ANJU_DATABASE_URL": f"sqlite+aiosqlite:///{db}"})
    assert result.returncode == 2
    assert f"no database at {db}" in result.stderr and "ANJU_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()


def test_audit_verify_on_an_unreachable_or_unmigrated_database_says_what_to_do(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    refused = anju(
        "audit", "verify", env={"ANJU_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:9/x"}
    )
    assert refused.returncode == 2 and "cannot open the database" in refused.stderr
    assert "Traceback" not in refused.stderr
    empty = tmp_path / "cli.db"
    empty.touch()
    unmigrated = anju("audit", "verify", env=sqlite_env)
    assert unmigrated.returncode == 2 and "anju db upgrade" in unmigrated.stderr


def test_run_help_lists_every_setting_with_its_default(sqlite_env: dict[str, str]) -> None:
    from anju.config import Settings

    result = anju("run", "--help", env=sqlite_env)
    assert result.returncode == 0, result.stderr
    for name in Settings.model_fields:
        assert f"ANJU_{name.upper()}" in result.stdout or name == "twilio_from"
    assert "ANJU_TWILIO_FROM" in result.stdout and "ANJU_DINGTALK_WEBHOOK" in result.stdout
    assert "ANJU_HTTP_PORT                     8000" in result.stdout


def test_the_demo_key_is_long_enough_for_jwt_and_refused_in_production() -> None:
    from anju.config import DEFAULT_SECRETS, DEMO_SECRET

    assert len(DEMO_SECRET.encode()) >= 32  # PyJWT's InsecureKeyLengthWarning below that
    assert DEMO_SECRET in DEFAULT_SECRETS
