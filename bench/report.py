"""The results table: one row per measure, with its budget and PASS/FAIL, as text and markdown."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Row:
    measure: str
    direct: str = ""
    through: str = ""
    result: str = ""  # the added cost, or the outcome when there is no direct side
    budget: str = ""
    ok: bool | None = None  # None: reported, not judged
    baseline: str = ""  # the same measure through the baseline commit's gateway (same run)

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "FAIL")


@dataclass
class Report:
    title: str
    baseline: str = ""  # "77f0439 <subject>" when a baseline gateway ran beside this tree
    notes: list[str] = field(default_factory=list)
    sections: list[tuple[str, list[Row]]] = field(default_factory=list)

    def section(self, name: str) -> list[Row]:
        rows: list[Row] = []
        self.sections.append((name, rows))
        return rows

    @property
    def all_rows(self) -> list[Row]:
        return [row for _, rows in self.sections for row in rows]

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.all_rows if row.ok is False]


def _head(report: Report) -> tuple[str, ...]:
    if report.baseline:
        return ("measure", "direct", "through", "baseline", "added / result", "budget", "")
    return ("measure", "direct", "through", "added / result", "budget", "")


def _cells(row: Row, report: Report) -> tuple[str, ...]:
    if report.baseline:
        return (row.measure, row.direct, row.through, row.baseline, row.result, row.budget, row.verdict)
    return (row.measure, row.direct, row.through, row.result, row.budget, row.verdict)


def text_table(report: Report) -> str:
    """A fixed-width table for the terminal."""
    head = _head(report)
    lines = [(head, None)] + [(_cells(r, report), None) for _, rows in report.sections for r in rows]
    widths = [max(len(cells[i]) for cells, _ in lines) for i in range(len(head))]
    out: list[str] = []
    rule = "-+-".join("-" * w for w in widths)

    def fmt(cells: tuple[str, ...]) -> str:
        return " | ".join(c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    out += [fmt(head), rule]
    for name, rows in report.sections:
        out.append(f"[{name}]")
        out += [fmt(_cells(r, report)) for r in rows]
    return "\n".join(out)


def markdown(report: Report, machine: dict[str, str]) -> str:
    out = [f"# {report.title}", ""]
    out += [f"- **{k}**: {v}" for k, v in machine.items()]
    if report.baseline:
        out += [f"- **baseline**: {report.baseline} (its own worktree, the same stand-ins, in the same rotated blocks)"]
    out += [""]
    head = _head(report)
    out += ["| " + " | ".join(head[:-1] + ("verdict",)) + " |", "|" + "---|" * len(head)]
    for name, rows in report.sections:
        out.append(f"| **{name}** |" + " |" * (len(head) - 1))
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r, report)) + " |" for r in rows]
    if report.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    verdict = "all budgets met" if not report.failed else "missed: " + "; ".join(r.measure for r in report.failed)
    out += ["", f"**Outcome**: {verdict}.", ""]
    return "\n".join(out)


def machine_info(loop_name: str, load_before: float) -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cores} cores ({model}), {platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load generator": f"bench.loadgen: raw asyncio HTTP/1.1 keep-alive client on {loop_name}, one process",
        "placement": f"gateway, stand-ins and load generator are separate processes sharing all {cores} cores; none pinned",
        "load average before the run": f"{load_before:.2f} (1 min; anything else running on the machine skews the numbers)",
    }


def ms(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:.{digits}f} ms"  # NaN check


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def log(message: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
