"""The ``anju`` command: parses arguments and hands over to runtime, simulator, engine or store."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Protocol

from anju.errors import AnjuError


class _Command(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


#: Subcommands whose options live with the code they drive.
_DELEGATED = {
    "simulate": ("anju.simulator.command", "the hardware simulator: live to MQTT or to files"),
    "replay": ("anju.replay", "run the rule engine over an event file on event time"),
    "broker": ("anju.ingest.broker_auth", "gateway MQTT credentials and the broker's password/ACL files"),
}


def _delegate(name: str) -> _Command:
    module: _Command = importlib.import_module(_DELEGATED[name][0])
    return module


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anju", description="Anju (安居): 7x24 home-safety monitoring")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="everything on this machine: embedded broker, SQLite, simulated fleet")
    demo.add_argument("--households", type=int, default=530, help="simulated homes (default 530)")
    demo.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    demo.add_argument("--seed", type=int, default=1, help="simulator seed")
    demo.add_argument("--port", type=int, default=None, help="HTTP port (default ANJU_HTTP_PORT or 8000)")
    demo.add_argument("--mqtt-port", type=int, default=1884, help="embedded broker port (default 1884)")
    demo.add_argument("--database-url", default=None, help="default sqlite+aiosqlite:///./anju-demo.db")
    demo.add_argument("--no-simulator", action="store_true", help="seed a few homes but simulate nothing")

    sub.add_parser(
        "run",
        help="the service against the configured broker and database",
        description="The service (ingest, rules, dispatch, notify, API, console) against the configured "
        "broker and database. Settings come from the environment:",
        # Listing the settings imports every provider: only when `anju run --help` is asked for.
        epilog=_settings_help() if argv[:1] == ["run"] and {"-h", "--help"} & set(argv[1:]) else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply Alembic migrations")

    user = sub.add_parser("user", help="console users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create a console user; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["operator", "supervisor", "admin", "responder"])
    add.add_argument("--display-name", default="")
    add.add_argument("--phone", default=None)
    add.add_argument(
        "--contact",
        type=int,
        default=None,
        metavar="ID",
        help="household contact id (required for responders)",
    )

    audit = sub.add_parser("audit", help="the tamper-evident audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain; exit 1 at the first broken record")
    verify.add_argument(
        "--anchor",
        default=None,
        metavar="ID:HASH",
        help="a head printed by an earlier verify: also detects records cut from the end",
    )

    for name, (_module, help_text) in _DELEGATED.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_delegated=name)
    return parser


def _settings_help() -> str:
    """Every setting of the service and of each provider: its variable and its default."""
    from pydantic import SecretStr
    from pydantic_settings import BaseSettings

    from anju.config import Settings
    from anju.notify.providers import PROVIDERS

    listed: set[str] = set()

    def rows(model: type[BaseSettings], prefix: str) -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            variable = alias or prefix + name.upper()
            if variable in listed:
                continue
            listed.add(variable)
            default = field.get_default(call_default_factory=True)
            if isinstance(default, SecretStr):
                shown = "(required)" if not default.get_secret_value() else "(secret)"
            else:
                shown = "(unset)" if default is None else str(default)
            out.append(f"  {variable:<34} {shown}")
        return out

    lines = ["settings (environment) and their defaults:", *rows(Settings, "ANJU_")]
    for spec in PROVIDERS:
        own = rows(spec.settings, spec.settings.env_prefix())
        if own:
            lines += ["", f"{spec.name} provider:", *own]
    return "\n".join(lines)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise AnjuError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    # Delegated subcommands add their own options before the final parse.
    if argv and argv[0] in _DELEGATED:
        sub = argparse.ArgumentParser(prog=f"anju {argv[0]}", description=_DELEGATED[argv[0]][1])
        command = _delegate(argv[0])
        command.add_arguments(sub)
        args = sub.parse_args(argv[1:])
        _setup_logging(verbose=False)
        return _guard(lambda: command.run(args))
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    return _guard(lambda: _dispatch(args))


#: Libraries whose INFO lines drown what an operator needs to read.
_CHATTY_LOGGERS = ("amqtt", "transitions", "alembic", "uvicorn.access", "twilio.http_client")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        for name in _CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def _guard(fn: object) -> int:
    try:
        result = fn()  # type: ignore[operator]
        return int(result or 0)
    except AnjuError as err:
        print(f"anju: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from anju import runtime  # imported late: `anju --help` stays fast

    if args.command == "demo":
        return runtime.run_demo(
            households=args.households,
            speed=args.speed,
            seed=args.seed,
            port=args.port,
            mqtt_port=args.mqtt_port,
            database_url=args.database_url,
            simulate=not args.no_simulator,
        )
    if args.command == "run":
        return runtime.run_service()
    if args.command == "db":
        return runtime.db_upgrade()
    if args.command == "user":
        password = _read_password()
        return asyncio.run(
            runtime.add_user(
                args.name,
                role=args.role,
                password=password,
                display_name=args.display_name,
                phone=args.phone,
                contact_id=args.contact,
            )
        )
    if args.command == "audit":
        return asyncio.run(runtime.audit_verify(args.anchor))
    raise AnjuError(f"unknown command {args.command!r}")


if __name__ == "__main__":
    raise SystemExit(main())
