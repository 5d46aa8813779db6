"""``anju replay``: event file in, alert lines out, on event time."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pytest

from anju.cli import main
from anju.replay import _Timestamps, read_rows

ROOT = Path(__file__).resolve().parents[2]
ROWS = """ts,household_id,device_id,type,event,battery
2026-01-05T10:00:00.000+08:00,h-1,pir-1,pir,motion,
2026-01-05T10:05:00.000+08:00,h-1,btn-1,button,press,90
2026-01-05T10:06:00.000+08:00,h-1,pir-1,pir,wave,
2026-01-05T10:07:00.000+08:00,h-2,pir-9,pir,motion,
2026-01-05T10:08:00.000+08:00,h-1,pir-1,pir,motion,
"""


def _replay(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[list[dict], str]:
    path = tmp_path / "events.csv"
    path.write_text(ROWS, encoding="utf-8")
    assert main(["replay", str(path), *extra]) == 0
    captured = capsys.readouterr()
    return [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_replay_prints_each_alert_as_a_json_line_on_event_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alerts, err = _replay(tmp_path, capsys, "--until", "2026-01-05T14:00:00+08:00")
    assert [(a["household_id"], a["rule"], a["severity"], a["at"]) for a in alerts] == [
        ("h-1", "button", "critical", "2026-01-05T02:05:00.000+00:00"),
        ("h-1", "inactivity", "high", "2026-01-05T05:08:00.000+00:00"),
        ("h-2", "inactivity", "high", "2026-01-05T05:07:00.000+00:00"),
    ]
    assert alerts[1]["detail"]["threshold_s"] == 3 * 3600
    assert "line 4: rejected: event 'wave' is not one a pir device sends" in err


def test_replay_without_until_leaves_pending_timers_unfired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alerts, _ = _replay(tmp_path, capsys)
    assert [a["rule"] for a in alerts] == ["button"]


def test_fixed_baseline_pack_waits_four_hours_by_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alerts, _ = _replay(
        tmp_path,
        capsys,
        "--rules",
        str(ROOT / "rules" / "baseline-fixed.toml"),
        "--until",
        "2026-01-05T20:00:00+08:00",
    )
    inactivity = [a for a in alerts if a["rule"] == "inactivity"]
    assert [a["at"] for a in inactivity] == ["2026-01-05T06:08:00.000+00:00", "2026-01-05T06:07:00.000+00:00"]


def test_fleet_file_gives_heartbeats_so_silent_devices_go_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = tmp_path / "fleet.json"
    fleet.write_text(
        json.dumps(
            {
                "households": [
                    {
                        "id": "h-1",
                        "timezone": "Asia/Shanghai",
                        "devices": [{"id": "pir-1", "type": "pir", "heartbeat_s": 600}],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    path = tmp_path / "events.csv"
    path.write_text(
        "ts,household_id,device_id,type,event,battery\n"
        "2026-01-05T10:00:00+08:00,h-1,pir-1,pir,heartbeat,80\n",
        encoding="utf-8",
    )
    assert main(["replay", str(path), "--fleet", str(fleet), "--until", "2026-01-05T10:30:00+08:00"]) == 0
    alerts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(a["rule"], a["at"]) for a in alerts] == [("device_offline", "2026-01-05T02:20:00.000+00:00")]


def test_a_file_that_is_not_an_event_file_is_refused_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    assert main(["replay", str(path)]) == 2
    assert "not an event file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "ts",
    [
        "2026-01-01T00:00:03.123+08:00",
        "2026-01-01T00:00:03.123Z",
        "2026-01-01T00:00:03.123-05:00",
        "2026-01-01T00:00:03+08:00",
        "2026-01-01T00:00:03.123456+08:00",
        "2026-01-01T00:00:03.1+08:00",
        "2026-01-01 23:59:59.999+00:00",
    ],
)
def test_fast_timestamps_agree_with_the_standard_parser(ts: str) -> None:
    epoch = _Timestamps().epoch
    assert epoch(ts) == pytest.approx(datetime.fromisoformat(ts).timestamp(), abs=1e-6)
    assert epoch(ts) == pytest.approx(epoch(ts))  # the second read comes from the cache


@pytest.mark.parametrize(
    "ts",
    [
        "2026-01-01T00:00:03.1x3+08:00",
        "2026-01-01T00:00:60+08:00",
        "2026-01-01T00:00:03",
        "2026-01-01T00:0a:03+08:00",
        "2026-01-01T00:00:3+08:00",
        "2026-01-01T00+08:30",  # an hour and an offset: fromisoformat reads it, but not as a minute
        "2026-01-01T12-03:30",
        "2026-01-01T00:00:03.\uff11\uff12\uff13+08:00",  # full-width digits
        "2026-01-01T00:00:0\u0663.123+08:00",  # an Arabic-Indic digit
        "2026-01-0\uff11T00:00:03+08:00",
        "garbage",
    ],
)
def test_fast_timestamps_refuse_what_is_not_rfc3339_with_an_offset(ts: str) -> None:
    with pytest.raises(ValueError):
        _Timestamps().epoch(ts)


def test_a_row_with_a_bad_timestamp_is_rejected_with_its_line_and_the_rest_is_read() -> None:
    text = (
        "ts,household_id,device_id,type,event,battery\n"
        "2026-01-01T00:00:60+08:00,h1,pir-1,pir,motion,\n"
        "2026-01-01T00:00:03.123+08:00,h1,pir-1,pir,motion,\n"
    )
    errors = io.StringIO()
    rows = list(read_rows(io.StringIO(text), errors))
    assert [r[4] for r in rows] == [
        pytest.approx(datetime.fromisoformat("2026-01-01T00:00:03.123+08:00").timestamp())
    ]
    assert errors.getvalue().startswith("line 2: rejected:")


def test_an_unknown_time_zone_is_a_clear_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.csv"
    path.write_text("ts,household_id,device_id,type,event,battery\n", encoding="utf-8")
    assert main(["replay", str(path), "--timezone", "Mars/Base"]) == 2
    err = capsys.readouterr().err
    assert "unknown time zone 'Mars/Base'" in err and "Traceback" not in err


def test_a_file_whose_every_row_is_rejected_exits_non_zero_with_the_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "ts,household_id,device_id,type,event,battery\n"
        "2026-01-05T08:00:00+08:00,h,pir-1,pir,explode,\n"
        "yesterday,h,pir-1,pir,motion,\n",
        encoding="utf-8",
    )
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert "line 2: rejected" in err and "line 3: rejected" in err
    assert "2 of 2 rows rejected" in err and "every row was rejected (2)" in err


def test_a_file_with_some_rows_rejected_replays_the_rest_and_counts_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "ts,household_id,device_id,type,event,battery\n"
        "2026-01-05T08:00:00+08:00,h,btn-1,button,press,\n"
        "yesterday,h,pir-1,pir,motion,\n",
        encoding="utf-8",
    )
    assert main(["replay", str(path)]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["rule"] for line in captured.out.splitlines()] == ["button"]
    assert "1 of 2 rows rejected" in captured.err
