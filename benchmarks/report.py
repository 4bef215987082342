"""Scenario results: the printed table and the JSON file."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import RESULTS_DIR


@dataclass
class Row:
    """One line of a scenario's table: a measure, its baseline, ours, the target."""

    metric: str
    baseline: str
    ours: str
    target: str = ""
    #: "PASS", "MISS", or "" for a number reported without a target.
    verdict: str = ""


@dataclass
class Result:
    scenario: str
    title: str
    baseline_label: str
    ours_label: str
    rows: list[Row] = field(default_factory=list)
    #: The raw measurements, for the JSON file.
    data: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def check(self, metric: str, baseline: str, ours: str, target: str, ok: bool) -> None:
        self.rows.append(Row(metric, baseline, ours, target, "PASS" if ok else "MISS"))

    def info(self, metric: str, baseline: str, ours: str) -> None:
        self.rows.append(Row(metric, baseline, ours))

    @property
    def verdicts(self) -> list[str]:
        return [r.verdict for r in self.rows if r.verdict]


def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def table(result: Result) -> str:
    """The result as a fixed-width text table."""
    lines = [f"== {result.scenario}: {result.title}"]
    if result.error:
        lines.append(f"   ERROR: {result.error}")
        return "\n".join(lines)
    header = ("metric", result.baseline_label, result.ours_label, "target", "result")
    cells = [header] + [(r.metric, r.baseline, r.ours, r.target, r.verdict) for r in result.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        lines.append(
            "   " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        )
        if n == 0:
            lines.append("   " + "  ".join("-" * w for w in widths))
    lines.extend(f"   note: {note}" for note in result.notes)
    return "\n".join(lines)


def write_json(result: Result, meta: dict[str, object], results_dir: Path = RESULTS_DIR) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result.scenario}.json"
    path.write_text(json.dumps({**meta, **asdict(result)}, indent=2, sort_keys=False) + "\n")
    return path
