"""The reports page shows the dispatch SLA report's own figures, and its export links are that route's."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from anju.clock import SimClock
from anju.context import Context
from anju.dispatch.sla import flatten
from anju.domain import Role
from anju.store.db import transaction
from anju.store.models import Alert, Household, Incident
from tests.support.api import add_user, client_for
from tests.support.settings import make_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: The report's window on the page: 2026-10-05 to 2026-10-18 inclusive, local days.
SINCE_DAY, UNTIL_DAY = "2026-10-05", "2026-10-18"
WINDOW_START = datetime(2026, 10, 5, tzinfo=SHANGHAI)
WINDOW_END = datetime(2026, 10, 19, tzinfo=SHANGHAI)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=SHANGHAI)


def incident(
    n: int,
    opened: datetime,
    *,
    rule: str = "button",
    severity: str = "critical",
    state: str = "closed",
    ack: float | None = None,
    dispatch: float | None = None,
    arrive: float | None = None,
    close: float | None = None,
    outcome: str | None = None,
    follow_up_due: datetime | None = None,
    follow_up_done: datetime | None = None,
) -> Incident:
    def after(seconds: float | None) -> datetime | None:
        return None if seconds is None else opened + timedelta(seconds=seconds)

    return Incident(
        id=n,
        household_id="h-report",
        state=state,
        severity=severity,
        rule=rule,
        opened_at=opened,
        acknowledged_at=after(ack),
        dispatched_at=after(dispatch),
        arrived_at=after(arrive),
        resolved_at=after(close),
        closed_at=after(close) if state == "closed" else None,
        outcome=outcome,
        follow_up_due_at=follow_up_due,
        follow_up_done_at=follow_up_done,
        updated_at=opened,
    )


def hand_built() -> list[Incident]:
    """Seven incidents inside the window and one just outside on either side."""
    return [
        # Critical: acknowledged in 30 s, 90 s, 200 s, and one never acknowledged.
        incident(
            1,
            local(5, 9),
            ack=30,
            dispatch=300,
            arrive=1500,
            close=7200,
            outcome="taken_to_hospital",
            follow_up_due=local(6, 9),
            follow_up_done=local(6, 8),
        ),
        incident(2, local(7, 21), ack=90, close=600, outcome="resident_well"),
        incident(
            3,
            local(13, 3),
            ack=200,
            dispatch=400,
            arrive=1800,
            close=9000,
            outcome="assisted_at_home",
            follow_up_due=local(14, 3),
            follow_up_done=local(15, 10),
        ),
        incident(4, local(14, 10), state="open"),
        incident(
            5, local(8, 12), rule="inactivity", severity="high", ack=45, close=900, outcome="false_alarm"
        ),
        incident(6, local(16, 8), rule="device_offline", severity="low", state="acknowledged", ack=600),
        incident(
            7,
            local(18, 23, 30),
            rule="door_left_open",
            severity="medium",
            state="resolved",
            ack=20,
            outcome="resident_well",
            follow_up_due=local(18, 23, 50),
        ),
        # Outside the window on either side: not counted.
        incident(8, local(4, 23, 59), ack=10, close=60, outcome="false_alarm"),
        incident(9, local(19, 0), ack=10, close=60, outcome="false_alarm"),
    ]


@pytest.fixture
async def report_ctx(db_url: str) -> AsyncIterator[Context]:
    """A database holding the hand-built incidents, its clock a month after the window."""
    ctx = Context.create(make_settings(db_url), clock=SimClock(datetime(2026, 11, 20, tzinfo=UTC)))
    async with transaction(ctx.db) as session:
        now = ctx.clock.now()
        session.add(Household(id="h-report", name="报表住户", created_at=now, updated_at=now))
        await session.flush()
        incidents = hand_built()
        session.add_all(incidents)
        await session.flush()
        for n, inc in enumerate(incidents[:3]):
            session.add(
                Alert(
                    household_id="h-report",
                    incident_id=inc.id,
                    rule=inc.rule,
                    severity=inc.severity,
                    at=inc.opened_at,
                    raised_at=inc.opened_at,
                    key=f"k{n}",
                )
            )
    try:
        yield ctx
    finally:
        await ctx.close()


def page_metrics(page: str) -> dict[str, Any]:
    """Every figure the page shows, by the report's own metric name."""
    pairs = re.findall(r"""data-metric="([^"]+)" data-value='([^']*)'""", page)
    return {name: json.loads(html.unescape(value)) for name, value in pairs}


def export_link(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}" href="([^"]+)"', page)
    assert found, f"no #{element_id} on the page"
    return html.unescape(found.group(1))


async def test_reports_page_figures_are_the_sla_reports_for_a_hand_built_set(report_ctx: Context) -> None:
    ctx = report_ctx
    token = await add_user(ctx, Role.SUPERVISOR)
    auth = {"Authorization": f"Bearer {token}"}
    async with client_for(ctx) as client:
        response = await client.get("/reports", params={"since": SINCE_DAY, "until": UNTIL_DAY}, headers=auth)
        assert response.status_code == 200, response.text
        page = response.text
        api = await client.get(
            "/api/v1/reports/sla",
            params={"since": WINDOW_START.isoformat(), "until": WINDOW_END.isoformat()},
            headers=auth,
        )
        assert api.status_code == 200, api.text
        report = api.json()

        shown = page_metrics(page)
        # Worked out by hand from the set above, so that page and API cannot agree on a wrong answer.
        assert shown["incidents"] == 7
        assert shown["acknowledgement.critical_incidents"] == 4
        assert shown["acknowledgement.share_within_60s"] == 0.25  # 30 s only; the unacknowledged one misses
        assert shown["acknowledgement.share_within_180s"] == 0.5  # 30 s and 90 s
        assert shown["time_to.acknowledged.count"] == 6
        assert shown["time_to.acknowledged.median_s"] == 67.5  # (45 + 90) / 2 of 20, 30, 45, 90, 200, 600
        assert shown["time_to.acknowledged.p90_s"] == 600
        assert shown["time_to.arrived.max_s"] == 1800
        assert shown["real_emergencies"] == 2
        assert shown["warnings_pushed"] == 3
        assert shown["follow_ups.done_on_time"] == 1
        assert shown["follow_ups.overdue"] == 1
        assert shown["open_incidents"] == 3
        # And every figure on the page is the API's, to the last digit.
        api_figures = dict(flatten(report))
        assert len(shown) >= 20
        assert {name: api_figures[name] for name in shown} == shown
        assert "25.0%" in page and "50.0%" in page

        # The charts draw the same population: one bar per critical incident, the pending ones counted.
        ack_svg = re.search(r'<svg class="chart ack-chart".*?</svg>', page, re.S)
        assert ack_svg and ack_svg.group(0).count("<rect") == 4
        assert "尚无结果：2" in page  # incidents 4 and 6 have no outcome yet

        # The export links are the SLA route's own, for the same window.
        csv_link = export_link(page, "export-csv")
        assert csv_link.startswith("/api/v1/reports/sla?")
        exported = await client.get(csv_link, headers=auth)
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"].startswith("text/csv")
        rows = dict(csv.reader(io.StringIO(exported.text)))
        assert rows["since"] == report["since"] and rows["until"] == report["until"]
        assert rows == {"metric": "value", **{k: "" if v is None else str(v) for k, v in flatten(report)}}
        xlsx = await client.get(export_link(page, "export-xlsx"), headers=auth)
        assert xlsx.status_code == 200
        book = load_workbook(io.BytesIO(xlsx.content))
        assert sorted(r[0] for r in book["incidents"].iter_rows(min_row=2, values_only=True)) == list(
            range(1, 8)
        )


async def test_reports_page_in_english_labels_every_figure(report_ctx: Context) -> None:
    token = await add_user(report_ctx, Role.ADMIN)
    async with client_for(report_ctx) as client:
        response = await client.get(
            "/reports",
            params={"since": SINCE_DAY, "until": UNTIL_DAY, "lang": "en"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", " ", response.text, flags=re.S))
    for label in (
        "critical acknowledged within 60 s",
        "real emergencies",
        "follow-ups overdue",
        "raised → arrived",
    ):
        assert label in text
    assert not re.search(r"[\u4e00-\u9fff]", text.replace("报表住户", "").replace("中文", ""))
