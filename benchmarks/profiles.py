"""Summaries of the py-spy profiles ``run.py --profile`` records.

    .venv/bin/python benchmarks/profiles.py benchmarks/results/profiles/e2e-relay.txt

py-spy writes collapsed stacks, one line per distinct stack: ``frame;frame;… count``,
each frame ``function (file:line)``. The samples are sorted by thread and state (the
event loop busy or waiting in select; aiosqlite's connection threads inside SQLite or
waiting for work), then the busy event loop's samples are broken down by function:
on top of the stack (self) and anywhere in it (inclusive, once per stack). The relay is
one Python process, so the busy event loop is its CPU bottleneck once it nears 100 %.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harness import RESULTS_DIR

PROFILES_DIR = RESULTS_DIR / "profiles"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    """``function (package/module.py)`` without the line number and site-packages path."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", "/lib/python3", "/src/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"


def classify(frames: list[str]) -> str:
    """Which thread a stack belongs to and whether it was doing anything."""
    leaf = frames[-1]
    if any(f.startswith("_connection_worker_thread ") for f in frames):
        busy = any(f.startswith("Connection._execute ") for f in frames)
        return "sqlite thread, in SQLite" if busy else "sqlite thread, waiting"
    if any(f.startswith("BaseEventLoop._run_once ") for f in frames):
        return (
            "event loop, waiting (select)"
            if leaf.startswith("EpollSelector.")
            else "event loop, busy"
        )
    return "other threads"


@dataclass
class Profile:
    total: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    #: Functions on top of / anywhere in the stacks of the busy event loop.
    self_time: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)


def read(path: Path) -> Profile:
    profile = Profile()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";")]
        kind = classify(frames)
        profile.total += count
        profile.kinds[kind] += count
        if kind == "event loop, busy":
            profile.self_time[frames[-1]] += count
            for name in set(frames):
                profile.inclusive[name] += count
    return profile


def summary(path: Path, top: int = 20) -> str:
    p = read(path)
    if not p.total:
        return f"   {path.name}: no samples"
    busy = p.kinds["event loop, busy"] or 1
    lines = [f"   profile {path.name}: {p.total} samples (share of all samples)"]
    lines += [f"     {n / p.total:6.1%}  {kind}" for kind, n in sorted(p.kinds.items())]
    lines.append("   busy event loop, self (share of its busy samples):")
    lines += [f"     {n / busy:6.1%}  {name}" for name, n in p.self_time.most_common(top)]
    lines.append("   busy event loop, inclusive, authmail_relay functions:")
    ours = [(k, v) for k, v in p.inclusive.most_common() if "(authmail_relay/" in k]
    lines += [f"     {n / busy:6.1%}  {name}" for name, n in ours[:top]]
    return "\n".join(lines)


def profile_summary(directory: Path, scenario: str) -> str:
    paths = sorted(directory.glob(f"{scenario}-*.txt"))
    return "\n".join(summary(p) for p in paths) or "   (no profile recorded)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.paths:
        print(summary(path, args.top))


if __name__ == "__main__":
    main()
