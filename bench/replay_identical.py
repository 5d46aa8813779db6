"""Are ``anju replay``'s alert lines byte-identical between this tree and another revision?

python bench/replay_identical.py --against REV [--households 200 --days 30 --seed 7] [--rules PACK]

The inputs are written once, by this tree: the six real homes of the detection benchmark (one event
file each, from ``../shared/datasets``) and a simulated fleet (``anju simulate --out``). Each is then
replayed by this tree and by ``REV`` (a temporary git worktree), each in its own process with its own
source first on the path, and the two outputs are compared byte for byte. Prints one line per input
with the number of alert lines and ``identical`` or the first differing line; exits 1 on any
difference. A refactoring must leave every line identical; a change of behaviour shows here first.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def _run(tree: Path, args: list[str]) -> bytes:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    out = subprocess.run([sys.executable, "-m", "anju.cli", *args], capture_output=True, env=env, cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: anju {' '.join(args[:2])} failed: {out.stderr.decode()[-400:]}")
    return out.stdout


def _inputs(tmp: Path, households: int, days: float, seed: int) -> list[tuple[str, list[str]]]:
    """(name, replay arguments) for every input, written by this tree."""
    from datasets import load_homes, write_event_file

    cases: list[tuple[str, list[str]]] = []
    for home in load_homes():
        path = tmp / f"{home.name.replace(' ', '_')}.csv"
        write_event_file(home, path)
        cases.append((home.name, [str(path), "--timezone", home.timezone]))
    fleet = tmp / "fleet"
    sim = ["simulate", "--out", str(fleet), "--households", str(households), "--days", str(days)]
    _run(ROOT, [*sim, "--seed", str(seed)])
    cases.append(
        (
            f"simulated fleet ({households} homes, {days:g} days, seed {seed})",
            [str(fleet / "events.csv"), "--fleet", str(fleet / "fleet.json")],
        )
    )
    return cases


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--against", metavar="REV", required=True, help="the git revision to compare with")
    ap.add_argument("--households", type=int, default=200)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--rules", type=Path, default=None, help="rule pack for both trees (default: each tree's own)"
    )
    args = ap.parse_args()
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.against],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    differ = 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ref = tmp / f"ref-{sha}"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(ref), sha],
            capture_output=True,
            check=True,
        )
        try:
            for name, replay in _inputs(tmp, args.households, args.days, args.seed):
                extra = ["--rules", str(args.rules.resolve())] if args.rules else []
                ours = _run(ROOT, ["replay", *replay, *extra])
                theirs = _run(ref, ["replay", *replay, *extra])
                lines = ours.count(b"\n")
                if ours == theirs:
                    print(f"{name}: {lines:,} alert lines, identical to {sha}")
                    continue
                differ += 1
                diff = difflib.unified_diff(
                    theirs.decode().splitlines(),
                    ours.decode().splitlines(),
                    sha,
                    "this tree",
                    lineterm="",
                    n=0,
                )
                print(f"{name}: {lines:,} alert lines, DIFFERENT from {sha}:")
                print("\n".join(list(diff)[:12]))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref)], check=False)
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
