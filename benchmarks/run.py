"""Run the benchmark scenarios and print one table per scenario.

    .venv/bin/python benchmarks/run.py                  # all five (what `make bench` runs)
    .venv/bin/python benchmarks/run.py --quick          # smaller counts, about two minutes
    .venv/bin/python benchmarks/run.py -s e2e -s priority

Every scenario starts its own SMTP sink and relay processes on free loopback ports in
a scratch folder, drives them from a separate load-generator process, stops them all
again, prints its table and writes ``benchmarks/results/<scenario>.json``. A missed
target is a result, not an error: the exit code is 1 only if a scenario could not run.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

import scenario_e2e
import scenario_intake
import scenario_legacy
import scenario_memory
import scenario_oversight
import scenario_priority
from harness import REPO, RESULTS_DIR, Context, Processes, load_average, machine
from profiles import PROFILES_DIR, profile_summary
from report import Result, table, write_json
from services import ProcessDied

SCENARIOS: dict[str, Callable[[Context], Result]] = {
    "intake": scenario_intake.run,
    "e2e": scenario_e2e.run,
    "priority": scenario_priority.run,
    "legacy": scenario_legacy.run,
    "memory": scenario_memory.run,
    "oversight": scenario_oversight.run,
}


def git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def source_state() -> dict[str, object]:
    """The commit measured, and whether src/ had uncommitted changes (the relay runs
    from the working tree, an editable install)."""
    changed = git("status", "--porcelain", "--", "src")
    return {"commit": git("rev-parse", "--short", "HEAD"), "src_uncommitted_changes": changed != ""}


def run_one(
    name: str, quick: bool, scratch: Path, profile_dir: Path | None
) -> tuple[Result, dict[str, object]]:
    workdir = scratch / name
    workdir.mkdir(parents=True)
    load_before, started = load_average(), time.monotonic()
    retries = 0
    while True:
        processes = Processes(workdir, profile_dir=profile_dir, profile_prefix=f"{name}-")
        try:
            result = SCENARIOS[name](Context(quick, workdir, processes))
        except ProcessDied as exc:
            # SIGTERM/SIGKILL from outside (another job on a shared machine cleaning up
            # by process name): run the scenario again, twice at most.
            killed = exc.code in (-signal.SIGTERM, -signal.SIGKILL)
            if killed and retries < 2:
                retries += 1
                print(f"   a relay was killed from outside ({exc.code}); running {name} again")
                workdir = scratch / f"{name}-retry{retries}"
                workdir.mkdir(parents=True)
                continue
            traceback.print_exc()
            result = Result(name, "could not run", "", "", error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a scenario that cannot run must not stop the others
            traceback.print_exc()
            result = Result(name, "could not run", "", "", error=f"{type(exc).__name__}: {exc}")
        finally:
            processes.stop_all()
        break
    meta: dict[str, object] = {
        "seconds": round(time.monotonic() - started, 1),
        "retries_after_outside_kill": retries,
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
    return result, meta


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-s", "--scenario", action="append", choices=list(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record every relay with py-spy into results/profiles/ (slows the relay down)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch folder (logs, databases)"
    )
    args = parser.parse_args()
    names = args.scenario or list(SCENARIOS)

    def terminate(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwinds through run_one's cleanup

    signal.signal(signal.SIGTERM, terminate)
    scratch = Path(tempfile.mkdtemp(prefix="authmail-bench-"))
    run_meta: dict[str, object] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **source_state(),
        "quick": args.quick,
        "machine": machine(),
    }
    dirty = " + uncommitted changes in src/" if run_meta["src_uncommitted_changes"] else ""
    print(f"authmail-relay benchmarks, {run_meta['date']}, commit {run_meta['commit']}{dirty}")
    print(f"machine: {run_meta['machine']}; load average {load_average()}")
    print(f"scratch: {scratch}\n", flush=True)
    results: list[tuple[Result, dict[str, object]]] = []
    try:
        for name in names:
            print(f"-- running {name} …", flush=True)
            result, meta = run_one(
                name, args.quick, scratch, PROFILES_DIR if args.profile else None
            )
            results.append((result, meta))
            write_json(result, {**run_meta, **meta})
            print(table(result))
            if args.profile:
                print(profile_summary(PROFILES_DIR, name))
            print(
                f"   ({meta['seconds']} s; load average "
                f"{meta['load_average_before']} → {meta['load_average_after']})\n",
                flush=True,
            )
    finally:
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    print("== summary")
    for result, _meta in results:
        verdicts = "ERROR" if result.error else " ".join(result.verdicts) or "-"
        print(f"   {result.scenario:<9} {verdicts}")
    summary = {
        **run_meta,
        "scenarios": {
            r.scenario: {
                "error": r.error,
                "verdicts": {row.metric: row.verdict for row in r.rows if row.verdict},
            }
            for r, _ in results
        },
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"results: {RESULTS_DIR}/")
    return 1 if any(r.error for r, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
