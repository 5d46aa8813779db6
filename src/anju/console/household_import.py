"""Household import from CSV or XLSX: every row checked first, then all written or nothing.

One row per resident and/or contact; rows sharing a ``household_id`` build one household (its own
columns may repeat or stay blank on later rows, but never differ).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.api.schemas import ContactIn, ResidentIn
from anju.store.households import ID_PATTERN, ContactData, ResidentData, create_household
from anju.store.models import Household

HOUSEHOLD_COLUMNS = ("household_id", "name", "address", "area", "timezone", "notes")
RESIDENT_COLUMNS = ("resident_name", "resident_birth_year", "resident_phone")
CONTACT_COLUMNS = ("contact_name", "contact_relation", "contact_phone", "contact_priority")
COLUMNS = HOUSEHOLD_COLUMNS + RESIDENT_COLUMNS + CONTACT_COLUMNS
REQUIRED_COLUMNS = ("household_id", "name")
MAX_ROWS = 5000
MAX_LENGTH = {"name": 128, "address": 256, "area": 128, "timezone": 64, "notes": 4000}


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem: the file row (the header is row 1), the column, a catalog code and its parameters."""

    row: int
    column: str
    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "code": self.code,
            "message": self.message,
            "params": self.params,
        }


class ImportRejected(Exception):
    """The file cannot be imported; ``errors`` lists every problem found."""

    def __init__(self, errors: list[RowError], planned: dict[str, PlannedHousehold] | None = None) -> None:
        self.errors = sorted(errors, key=lambda e: (e.row, e.column))
        #: The households the good rows describe, so a caller can still check their ids.
        self.planned = planned or {}
        super().__init__(f"{len(errors)} problems")


@dataclass
class PlannedHousehold:
    first_row: int
    fields: dict[str, str]
    residents: list[ResidentData] = field(default_factory=list)
    contacts: list[ContactData] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ImportResult:
    households: int
    residents: int
    contacts: int
    ids: list[str]


def read_table(filename: str, data: bytes) -> list[list[str]]:
    """The file's rows as strings (header first): CSV in UTF-8 (BOM allowed) or the first XLSX sheet."""
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        from openpyxl import load_workbook  # only needed for spreadsheets

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as err:  # openpyxl raises many kinds for a bad file
            raise ImportRejected([RowError(0, "", "bad_file", f"not a readable XLSX file: {err}")]) from err
        sheet = book.worksheets[0]
        rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        book.close()
        return rows
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ImportRejected([RowError(0, "", "bad_file", "the CSV file is not UTF-8")]) from err
    try:
        return [row for row in csv.reader(io.StringIO(text))]
    except csv.Error as err:
        raise ImportRejected([RowError(0, "", "bad_file", f"not a readable CSV file: {err}")]) from err


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheet numbers (birth years, priorities) come back as floats
    return str(value)


def _err(row: int, column: str, code: str, message: str, **params: Any) -> RowError:
    return RowError(row, column, code, message, params)


_PYDANTIC_CODES = {
    "phone": "bad_phone",
    "birth_year": "bad_year",
    "priority": "bad_number",
    "language": "language",
}


def _pydantic_errors(row: int, prefix: str, err: ValidationError) -> list[RowError]:
    out = []
    for e in err.errors():
        name = str(e["loc"][0]) if e["loc"] else ""
        column = f"{prefix}_{name}" if name else prefix
        if e["type"] in ("missing", "string_too_short"):
            code = "required"
        elif e["type"] == "string_too_long":
            code = "too_long"
        else:
            code = _PYDANTIC_CODES.get(name, "bad_number" if e["type"].startswith("int") else "required")
        params = {"max": e.get("ctx", {}).get("max_length")} if code == "too_long" else {}
        out.append(_err(row, column, code, str(e["msg"]), **params))
    return out


def plan(rows: list[list[str]]) -> dict[str, PlannedHousehold]:
    """Check every row; the households to create, or :class:`ImportRejected` with every problem."""
    if not rows or not any(c.strip() for c in rows[0]):
        raise ImportRejected([_err(1, "", "empty", "the file has no header row")])
    header = [c.strip().lower() for c in rows[0]]
    errors: list[RowError] = []
    for name in header:
        if name and name not in COLUMNS:
            errors.append(
                _err(1, name, "unknown_column", f"unknown column {name!r}; known: {', '.join(COLUMNS)}")
            )
    for name in REQUIRED_COLUMNS:
        if name not in header:
            errors.append(_err(1, name, "missing_column", f"the column {name!r} is required"))
    body = [(n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
    if not body:
        errors.append(_err(2, "", "empty", "the file has no data rows"))
    if len(body) > MAX_ROWS:
        errors.append(_err(MAX_ROWS + 2, "", "too_many", f"at most {MAX_ROWS} rows", max=MAX_ROWS))
    if errors:
        raise ImportRejected(errors)
    planned: dict[str, PlannedHousehold] = {}
    for number, raw in body:
        values = {name: (raw[i].strip() if i < len(raw) else "") for i, name in enumerate(header) if name}
        errors.extend(_plan_row(number, values, planned))
    if errors:
        raise ImportRejected(errors, planned)
    return planned


def _plan_row(number: int, v: dict[str, str], planned: dict[str, PlannedHousehold]) -> list[RowError]:
    errors: list[RowError] = []
    hid = v.get("household_id", "")
    if not hid:
        return [_err(number, "household_id", "required", "household_id is required")]
    if not ID_PATTERN.fullmatch(hid):
        return [_err(number, "household_id", "bad_id", "ids are 1-64 characters of A-Z a-z 0-9 _ . -")]
    fields = {k: v.get(k, "") for k in HOUSEHOLD_COLUMNS[1:]}
    for name, limit in MAX_LENGTH.items():
        if len(fields[name]) > limit:
            errors.append(_err(number, name, "too_long", f"{name} has at most {limit} characters", max=limit))
    if fields["timezone"]:
        try:
            ZoneInfo(fields["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(
                _err(number, "timezone", "bad_timezone", f"unknown time zone {fields['timezone']!r}")
            )
    household = planned.get(hid)
    if household is None:
        if not fields["name"]:
            errors.append(_err(number, "name", "required", "the first row of a household needs its name"))
        household = PlannedHousehold(number, fields)
        planned[hid] = household
    else:
        for name, value in fields.items():
            if value and value != household.fields[name]:
                errors.append(
                    _err(
                        number,
                        name,
                        "conflict",
                        f"differs from row {household.first_row}",
                        first_row=household.first_row,
                    )
                )
    errors.extend(_plan_resident(number, v, household))
    errors.extend(_plan_contact(number, v, household))
    return errors


def _plan_resident(number: int, v: dict[str, str], household: PlannedHousehold) -> list[RowError]:
    name, year, phone = (v.get(c, "") for c in RESIDENT_COLUMNS)
    if not (name or year or phone):
        return []
    if not name:
        return [_err(number, "resident_name", "incomplete", "a resident's year or phone needs their name")]
    if year and not year.lstrip("-").isdigit():
        return [_err(number, "resident_birth_year", "bad_year", f"{year!r} is not a year")]
    try:
        checked = ResidentIn(name=name, birth_year=int(year) if year else None, phone=phone or None)
    except ValidationError as err:
        return _pydantic_errors(number, "resident", err)
    household.residents.append(
        ResidentData(name=checked.name, birth_year=checked.birth_year, phone=checked.phone)
    )
    return []


def _plan_contact(number: int, v: dict[str, str], household: PlannedHousehold) -> list[RowError]:
    name, relation, phone, priority = (v.get(c, "") for c in CONTACT_COLUMNS)
    if not (name or relation or phone or priority):
        return []
    if not name or not phone:
        column = "contact_phone" if name else "contact_name"
        return [_err(number, column, "incomplete", "a contact needs both a name and a phone")]
    if priority and not priority.isdigit():
        return [_err(number, "contact_priority", "bad_number", f"{priority!r} is not a whole number")]
    try:
        checked = ContactIn(
            name=name,
            phone=phone,
            relation=relation or "family",
            priority=int(priority) if priority else len(household.contacts),
        )
    except ValidationError as err:
        return _pydantic_errors(number, "contact", err)
    household.contacts.append(
        ContactData(
            name=checked.name, phone=checked.phone, relation=checked.relation, priority=checked.priority
        )
    )
    return []


async def taken_ids(session: AsyncSession, planned: dict[str, PlannedHousehold]) -> list[RowError]:
    """A problem for each planned household whose id is already in the database."""
    if not planned:
        return []
    taken = set((await session.scalars(select(Household.id).where(Household.id.in_(list(planned))))).all())
    return [
        _err(p.first_row, "household_id", "exists", f"household {hid!r} already exists")
        for hid, p in planned.items()
        if hid in taken
    ]


async def apply(
    session: AsyncSession, planned: dict[str, PlannedHousehold], *, actor: str, now: datetime
) -> ImportResult:
    """Create the planned households in the caller's transaction (the caller checked :func:`taken_ids`)."""
    for hid, p in planned.items():
        f = p.fields
        await create_household(
            session=session,
            household_id=hid,
            name=f["name"],
            now=now,
            address=f["address"],
            area=f["area"],
            timezone=f["timezone"] or None,
            notes=f["notes"],
            residents=p.residents,
            contacts=p.contacts,
        )
        await audit.record(
            session,
            at=now,
            actor=actor,
            action="household.import",
            entity="household",
            entity_id=hid,
            content={
                **f,
                "residents": [r.name for r in p.residents],
                "contacts": [{"name": c.name, "phone": c.phone, "relation": c.relation} for c in p.contacts],
            },
        )
    return ImportResult(
        households=len(planned),
        residents=sum(len(p.residents) for p in planned.values()),
        contacts=sum(len(p.contacts) for p in planned.values()),
        ids=list(planned),
    )
