"""Running the load generator (load.py) and the raw SMTP ceiling (ceiling.py) as
separate processes, and reading back what they measured."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import API_KEY, latency_summary_ms, python_script, run_child


@dataclass
class LoadResult:
    """What one load.py run measured."""

    began: float
    ended: float
    #: [start (time.time()), latency (s), HTTP status (0: transport error), message_id]
    samples: list[list[Any]]

    def statuses(self) -> dict[str, int]:
        return dict(sorted(Counter(str(s[2]) for s in self.samples).items()))

    def with_status(self, *codes: int) -> list[list[Any]]:
        return [s for s in self.samples if s[2] in codes]

    def rate(self, *codes: int) -> float:
        """Answers with one of ``codes`` per second of wall-clock time."""
        return len(self.with_status(*codes)) / max(self.ended - self.began, 1e-9)

    def latencies(self, *codes: int) -> list[float]:
        return [float(s[1]) for s in self.with_status(*codes)]

    def stats(self, *codes: int) -> dict[str, float]:
        """Rate and latency percentiles of the answers with one of ``codes``."""
        return {
            "rate_per_s": round(self.rate(*codes), 1),
            **latency_summary_ms(self.latencies(*codes)),
        }

    def summary(self, *codes: int) -> dict[str, object]:
        """:meth:`stats` plus the request count and every status seen, for the JSON."""
        return {"requests": len(self.samples), "statuses": self.statuses(), **self.stats(*codes)}


def run_load(
    out: Path,
    *,
    url: str,
    path: str,
    count: int,
    concurrency: int,
    body: str = "raw",
    warmup: int = 0,
    dry_run: bool = False,
    tag: str = "b",
    batch_size: int = 100,
    pace: float = 0.0,
    timeout: float = 900.0,
) -> LoadResult:
    """Run load.py to completion and return its samples."""
    argv = [
        *python_script("load.py"),
        f"--url={url}",
        f"--path={path}",
        f"--key={API_KEY}",
        f"--body={body}",
        f"--batch-size={batch_size}",
        f"--count={count}",
        f"--warmup={warmup}",
        f"--concurrency={concurrency}",
        f"--tag={tag}",
        f"--pace={pace}",
        f"--out={out}",
    ]
    if dry_run:
        argv.append("--dry-run")
    run_child(argv, timeout=timeout, log_path=out.with_suffix(".log"))
    data = json.loads(out.read_text())
    return LoadResult(float(data["began"]), float(data["ended"]), data["samples"])


@dataclass
class CeilingResult:
    began: float
    ended: float
    count: int

    @property
    def rate(self) -> float:
        return self.count / max(self.ended - self.began, 1e-9)


def run_ceiling(
    out: Path, *, smtp_port: int, connections: int, count: int, size: int
) -> CeilingResult:
    """Run ceiling.py: aiosmtplib alone, pre-built messages, ``connections`` connections."""
    argv = [
        *python_script("ceiling.py"),
        f"--port={smtp_port}",
        f"--connections={connections}",
        f"--count={count}",
        f"--size={size}",
        f"--out={out}",
    ]
    run_child(argv, timeout=600, log_path=out.with_suffix(".log"))
    data = json.loads(out.read_text())
    return CeilingResult(float(data["began"]), float(data["ended"]), int(data["count"]))
