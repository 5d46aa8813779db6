"""Routes: household import from CSV or XLSX, all or nothing, with a per-row error report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, UploadFile, status
from fastapi.responses import JSONResponse

from anju.api.responses import SIGNED_IN
from anju.console import household_import
from anju.console.household_import import ImportRejected, RowError
from anju.store.db import transaction
from anju.web.deps import Admin, CtxDep

router = APIRouter(tags=["households"], responses=SIGNED_IN)
MAX_BYTES = 5 * 1024 * 1024


def _rejected(errors: list[RowError]) -> JSONResponse:
    body: dict[str, Any] = {
        "imported": 0,
        "detail": f"{len(errors)} problems found; nothing was imported",
        "errors": [e.as_dict() for e in errors],
    }
    return JSONResponse(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


@router.post("/households/import", response_model=None)
async def import_households(ctx: CtxDep, user: Admin, file: UploadFile) -> JSONResponse:
    """Create households (with residents and contacts) from a file; any bad row rejects the whole file."""
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return _rejected([RowError(0, "", "bad_file", f"the file is larger than {MAX_BYTES} bytes")])
    try:
        rows = household_import.read_table(file.filename or "", data)
    except ImportRejected as err:
        return _rejected(err.errors)
    errors: list[RowError] = []
    try:
        planned = household_import.plan(rows)
    except ImportRejected as err:
        errors, planned = err.errors, err.planned
    try:
        # One transaction: any problem, found before or while writing, rolls every row back.
        async with transaction(ctx.db) as session:
            errors += await household_import.taken_ids(session, planned)
            if errors:
                raise ImportRejected(errors)
            result = await household_import.apply(session, planned, actor=user.username, now=ctx.clock.now())
    except ImportRejected as err:
        return _rejected(err.errors)
    return JSONResponse(
        {
            "imported": result.households,
            "households": result.households,
            "residents": result.residents,
            "contacts": result.contacts,
            "ids": result.ids,
        },
        status_code=status.HTTP_201_CREATED,
    )
