"""Engines and sessions. Service functions never commit; the caller's ``transaction`` does."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

SessionFactory = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` with the settings Anju relies on for each backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any error."""
    async with factory() as session, session.begin():
        yield session


def is_transient_error(err: BaseException) -> bool:
    """A lost connection, a timeout or a locked database: the same work retried later can succeed."""
    if isinstance(err, DBAPIError) and err.connection_invalidated:
        return True
    return isinstance(err, OperationalError | InterfaceError | OSError | TimeoutError)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


_AFTER_COMMIT_KEY = "anju.after_commit"

#: A callback and the innermost SAVEPOINT open when it was registered (None: the outer transaction).
_Pending = tuple[SessionTransaction | None, Callable[[], None]]


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction commits (never if it rolls back).

    Registered inside a SAVEPOINT (``begin_nested``), it is dropped if that savepoint rolls back;
    releasing the savepoint does not run it, only the outer commit does.
    """
    sync = session.sync_session
    callbacks: list[_Pending] = sync.info.setdefault(_AFTER_COMMIT_KEY, [])
    callbacks.append((sync.get_nested_transaction(), callback))


@event.listens_for(Session, "after_commit")
def _run_after_commit(sync_session: Session) -> None:
    if sync_session.get_nested_transaction() is not None:
        return  # a RELEASE SAVEPOINT: the outer transaction can still roll back
    for _, callback in sync_session.info.pop(_AFTER_COMMIT_KEY, []):
        try:
            callback()
        except Exception:  # a listener's failure must not undo a committed change
            logging.getLogger(__name__).exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(sync_session: Session) -> None:
    savepoint = sync_session.get_nested_transaction()
    if savepoint is None:
        sync_session.info.pop(_AFTER_COMMIT_KEY, None)
        return
    # ROLLBACK TO SAVEPOINT: drop only what was registered inside it.
    pending: list[_Pending] = sync_session.info.get(_AFTER_COMMIT_KEY, [])
    pending[:] = [(tx, cb) for tx, cb in pending if not _within(tx, savepoint)]


def _within(tx: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    while tx is not None:
        if tx is savepoint:
            return True
        tx = tx.parent
    return False
