"""``anju replay`` emits ``checkin`` lines and honours answer rows (CONTRACT.md section 2)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from anju.config import PROJECT_ROOT
from anju.domain import CheckinAnswer
from anju.engine.core import Engine
from anju.engine.model import CheckinReply
from anju.engine.pack import load_pack
from anju.replay import read_events, read_rows, replay, replay_rows

HEADER = "ts,household_id,device_id,type,event,battery\n"
SILENT = (
    HEADER
    + "2026-03-01T09:30:00.000+08:00,h-r,pir-1,pir,motion,\n"
    + "2026-03-01T10:00:00.000+08:00,h-r,pir-1,pir,motion,\n"
)
PACK = PROJECT_ROOT / "rules" / "checkin.toml"


def run(tmp_path: Path, text: str, *args: str) -> tuple[list[dict[str, object]], str]:
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "anju.cli",
        "replay",
        str(path),
        "--until",
        "2026-03-01T20:00:00+08:00",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def test_replay_prints_the_checkin_then_the_high_when_nobody_answers(tmp_path: Path) -> None:
    lines, _ = run(tmp_path, SILENT, "--rules", str(PACK))
    assert [(x["rule"], x["severity"], x["at"]) for x in lines][:2] == [
        ("checkin", "medium", "2026-03-01T05:00:00.000+00:00"),
        ("inactivity", "high", "2026-03-01T05:10:00.000+00:00"),
    ]
    assert lines[0]["detail"]["window_s"] == 600  # type: ignore[index]


def test_replay_honours_an_ok_row_and_a_help_row(tmp_path: Path) -> None:
    ok = SILENT + "2026-03-01T13:04:00.000+08:00,h-r,checkin,checkin,ok,\n"
    lines, _ = run(tmp_path, ok, "--rules", str(PACK))
    # No page at 13:10; asked again 4 h after the ok (17:04), unanswered: the high at 17:14.
    assert [(x["rule"], x["at"][11:16]) for x in lines] == [
        ("checkin", "05:00"),
        ("checkin", "09:04"),
        ("inactivity", "09:14"),
    ]
    helped = SILENT + "2026-03-01T13:04:00.000+08:00,h-r,checkin,checkin,help,\n"
    lines, _ = run(tmp_path, helped, "--rules", str(PACK))
    assert [(x["rule"], x["severity"]) for x in lines] == [("checkin", "medium"), ("inactivity", "critical")]


def test_a_bad_answer_row_is_rejected_with_its_reason_and_the_replay_goes_on(tmp_path: Path) -> None:
    bad = SILENT + "2026-03-01T13:04:00.000+08:00,h-r,checkin,checkin,maybe,\n"
    bad += "2026-03-01T13:05:00.000+08:00,h-r,pir-9,checkin,ok,\n"
    lines, err = run(tmp_path, bad, "--rules", str(PACK))
    assert "line 4: rejected: check-in answer 'maybe'" in err and "line 5: rejected" in err
    assert [x["rule"] for x in lines][:2] == ["checkin", "inactivity"]


def test_answer_rows_without_checkins_change_nothing(tmp_path: Path) -> None:
    plain, _ = run(tmp_path, SILENT)
    answered, _ = run(tmp_path, SILENT + "2026-03-01T13:04:00.000+08:00,h-r,checkin,checkin,ok,\n")
    assert plain == answered and [x["rule"] for x in plain] == ["inactivity"]


def test_the_fast_path_and_the_observation_path_agree_on_answers() -> None:
    text = SILENT + "2026-03-01T13:04:00.000+08:00,h-r,checkin,checkin,no_answer,\n"
    events = list(read_events(io.StringIO(text)))
    assert events[-1] == CheckinReply(household_id="h-r", answer=CheckinAnswer.NO_ANSWER, at=events[-1].at)
    slow = [f for f in replay(Engine(load_pack(PACK)), events)]
    fast = [f for f in replay_rows(Engine(load_pack(PACK)), read_rows(io.StringIO(text)))]
    assert slow == fast and [(f.rule.value, f.severity.value) for f in fast] == [
        ("checkin", "medium"),
        ("inactivity", "high"),
    ]
