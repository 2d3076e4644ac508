"""`python -m bench [--quick] [--no-thresholds] [--output PATH] [--peers litellm] [--baseline COMMIT] [--only SECTION]`.

Starts the stand-ins and the gateway as child processes, runs every measure, prints
one table and writes it (with the machine and the date) as markdown. Exits 1 when a
budget is missed, unless --no-thresholds. With ``--baseline COMMIT`` that commit's gateway
runs beside this tree's (bench/baseline.py) and the request-path measures (sections 1-3
and the CPU per request) take it in the same blocks; section 10 gives the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

from bench import baseline, cpu, fleet, ops, resilience, scenarios, surfaces, usage
from bench.loadgen import loop_factory
from bench.procs import ROOT, Children, Gateway, StandIn, Trivial, rss_mb
from bench.report import Report, Row, log, machine_info, markdown, ms, text_table, write
from bench.scenarios import Plan, Target

SHARED_MODEL = "llama3.2:latest"  # a LlamaFarm alias named like an Ollama model, for failover
IDLE_RSS_MB = 60.0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Atmosphere's speed benchmark.")
    parser.add_argument("--quick", action="store_true", help="short run (under a minute)")
    parser.add_argument("--no-thresholds", action="store_true", help="report budgets but always exit 0")
    parser.add_argument("--output", type=Path, default=None, help="markdown results (default bench/RESULTS.md)")
    parser.add_argument("--peers", choices=["litellm"], action="append", default=[], help="also measure a peer gateway")
    parser.add_argument(
        "--baseline",
        metavar="COMMIT",
        default="",
        help=f"also measure this commit's gateway in the same blocks (make bench uses {baseline.DEFAULT})",
    )
    parser.add_argument(
        "--only",
        choices=["sizes", "usage", "recording", "cpu"],
        default="",
        help="run only this section (sizes: 9b; usage: 11, the usage history: recording on/off with a control, the "
        "in-process figures and the day view, written to --output or test-artifacts/bench-usage.md, not RESULTS.md; "
        "recording: the same as usage; cpu: idle RSS and 1c, with the baseline when given, and their ratios)",
    )
    args = parser.parse_args(argv)
    if args.only == "recording":  # the old name of section 11 (9c, folded into it)
        args.only = "usage"
    return args


def _added(direct: float, through: float) -> str:
    return f"+{through - direct:.2f} ms"


def _versus(ours: float, theirs: float | None, unit: str = "ms") -> str:
    """`` (0.52 × baseline's +0.86 ms)``: this tree's added cost as a share of the baseline's."""
    if theirs is None:
        return ""
    share = f"{ours / theirs:.2f} ×" if theirs > 0 else "n/a"
    return f" ({share} baseline's +{theirs:.2f} {unit})"


class Comparison:
    """The figures both gateways gave in this run, for section 10."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, str, bool]] = []  # measure, ours, theirs, budget, higher_is_better

    def add(self, measure: str, ours: float, theirs: float | None, budget: str, higher_is_better: bool = False) -> None:
        if theirs is not None:
            self.rows.append((measure, ours, theirs, budget, higher_is_better))


async def run(args: argparse.Namespace, report: Report) -> None:
    plan = Plan.make(args.quick)
    children = Children()
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(baseline.checkout(args.baseline)) if args.baseline else None
        try:
            if args.only == "sizes":
                await resilience.sizes_section(children, await children.add(StandIn("ollama")), report)
                return
            if args.only == "usage":
                await usage.section(children, await children.add(StandIn("ollama")), plan, report)
                return
            if args.only == "cpu":
                await _cpu_only(plan, report, children, base)
                return
            await _run(plan, args, report, children, base)
        finally:
            children.stop_all()


async def _run(plan: Plan, args: argparse.Namespace, report: Report, children: Children, base: tuple[Path, str] | None) -> None:
    log("starting stand-ins, the trivial server and the gateway")
    ollama, llamafarm, trivial = await asyncio.gather(
        children.add(StandIn("ollama")),
        children.add(StandIn("llamafarm", "--shared-alias", SHARED_MODEL)),
        children.add(Trivial()),
    )
    gateway = Gateway(llamafarm_url=llamafarm.url, ollama_url=ollama.url)  # the defaults, as a user runs it
    old: Gateway | None = None
    if base is not None:
        report.baseline = base[1]
        old = Gateway(root=base[0], llamafarm_url=llamafarm.url, ollama_url=ollama.url)
        log(f"baseline {base[1]} in {base[0]}")
    await asyncio.gather(*(children.add(g) for g in (gateway, old) if g is not None))
    await asyncio.sleep(max(0.0, max(g.started_at for g in (gateway, old) if g is not None) + 2.0 - time.monotonic()))
    idle_rss = rss_mb(gateway.pid)
    old_rss = rss_mb(old.pid) if old is not None else None
    log(f"gateway idle RSS {idle_rss:.1f} MB" + (f" (baseline {old_rss:.1f} MB)" if old_rss else ""))
    versus = Comparison()

    ceilings = report.section("ceilings (what the tools themselves can do)")
    ceiling = await scenarios.ceiling(trivial.port, plan)
    trivial.stop()
    ceilings.append(
        Row(
            "load generator → trivial raw-asyncio server",
            result=f"{ceiling['rps_c32']:,.0f} req/s at c=32; p50 {ceiling['p50_c1_ms']:.3f} ms at c=1",
        )
    )
    log(f"load generator ceiling {ceiling['rps_c32']:,.0f} req/s")

    old_port = old.port if old is not None else 0
    targets = [
        scenarios.llamafarm_target(llamafarm.port, gateway.port, baseline_port=old_port),
        scenarios.ollama_target(ollama.port, gateway.port, baseline_port=old_port),
    ]
    standins = {targets[0].name: llamafarm, targets[1].name: ollama}
    for target in targets:
        await scenarios.warm_up(target)

    c1 = report.section("1. non-streaming chat, concurrency 1")
    for target in targets:
        p = await scenarios.non_streaming(target, 1, plan)
        d, t = scenarios.summary(p.direct), scenarios.summary(p.through)
        b = scenarios.summary(p.baseline) if p.baseline is not None else None
        ok = t["p50"] - d["p50"] <= 1.0 and not t["errors"]
        added, old_added = t["p50"] - d["p50"], (b["p50"] - d["p50"]) if b else None
        result = _added(d["p50"], t["p50"]) + _versus(added, old_added)
        c1.append(
            Row(f"{target.name}: p50", ms(d["p50"]), ms(t["p50"]), result, "added ≤ 1.00 ms", ok, ms(b["p50"]) if b else "")
        )
        c1.append(
            Row(f"{target.name}: p99", ms(d["p99"]), ms(t["p99"]), _added(d["p99"], t["p99"]), baseline=ms(b["p99"]) if b else "")
        )
        versus.add(f"added p50, c=1, {target.name}", added, old_added, "≤ 0.6 ×")
        log(f"c=1 {target.name}: p50 {d['p50']:.3f} → {t['p50']:.3f} ms" + (f" (baseline {b['p50']:.3f})" if b else ""))

    await _cpu(report, targets, gateway, old, plan, versus)
    await _surfaces(report, ollama, gateway, plan)

    c32 = report.section("2. non-streaming chat, concurrency 32")
    for target in targets:
        p = await scenarios.non_streaming(target, 32, plan)
        d, t = scenarios.summary(p.direct), scenarios.summary(p.through)
        b = scenarios.summary(p.baseline) if p.baseline is not None else None
        errors = f"; {int(t['errors'])} errors" if t["errors"] else ""
        c32.append(
            Row(
                f"{target.name}: p50 / p99",
                f"{d['p50']:.2f} / {d['p99']:.2f} ms",
                f"{t['p50']:.2f} / {t['p99']:.2f} ms",
                _added(d["p99"], t["p99"]) + " at p99" + errors,
                "through p99 ≤ 60 ms, 0 errors",
                t["p99"] <= 60 and not t["errors"],
                f"{b['p50']:.2f} / {b['p99']:.2f} ms" + (f"; {int(b['errors'])} errors" if b["errors"] else "") if b else "",
            )
        )
        share = f"{t['rps'] / d['rps']:.0%} of direct" + (f"; {t['rps'] / b['rps']:.2f} × baseline's" if b and b["rps"] else "")
        rps = f"{d['rps']:,.0f}", f"{t['rps']:,.0f}"
        c32.append(
            Row(
                f"{target.name}: requests/s",
                *rps,
                share,
                "through ≥ 1,000 req/s",
                t["rps"] >= 1000,
                f"{b['rps']:,.0f}" if b else "",
            )
        )
        versus.add(f"c=32 requests/s, {target.name}", t["rps"], b["rps"] if b else None, "≥ 2 ×", higher_is_better=True)
        ceilings.append(Row(f"stand-in alone: {target.name}, c=32", result=f"{d['rps']:,.0f} req/s"))
        log(f"c=32 {target.name}: {d['rps']:,.0f} → {t['rps']:,.0f} req/s, p99 {d['p99']:.2f} → {t['p99']:.2f} ms")

    c256 = report.section("2b. a burst: concurrency 256 on one host, the defaults")
    for target in targets:
        p = await scenarios.non_streaming(target, 256, plan, block_s=plan.c32_block_s / 2)
        d, t = scenarios.summary(p.direct), scenarios.summary(p.through)
        b = scenarios.summary(p.baseline) if p.baseline is not None else None
        outcome = f"{int(t['n'])} served, {int(t['errors'])} errors; p99 {t['p99']:.1f} ms"
        old_outcome = f"{int(b['n'])} served, {int(b['errors'])} errors" if b else ""
        c256.append(
            Row(
                f"{target.name}: c=256",
                f"{d['rps']:,.0f} req/s",
                f"{t['rps']:,.0f} req/s",
                outcome,
                "0 errors",
                not t["errors"],
                old_outcome,
            )
        )
        log(f"c=256 {target.name}: {outcome}" + (f" (baseline {old_outcome})" if b else ""))

    streams = report.section("3. streaming (gateway answers OpenAI SSE)")
    for target in targets:
        stats = await scenarios.streaming(target, standins[target.name], plan)
        d, t = stats["direct"], stats["through"]
        dp, tp = scenarios.median(d.ttfc_ms), scenarios.median(t.ttfc_ms)
        bp = scenarios.median(stats["baseline"].ttfc_ms) if "baseline" in stats else None
        kind = "NDJSON" if target.direct_delim == b"\n" else "SSE"
        errors = d.errors + t.errors
        name = f"{target.name} ({kind})"
        old_added = bp - dp if bp is not None else None
        result = _added(dp, tp) + _versus(tp - dp, old_added)
        baseline_cell = ms(bp) if bp is not None else ""
        streams.append(
            Row(f"{name}: time to first chunk p50", ms(dp), ms(tp), result, "added ≤ 1.00 ms", tp - dp <= 1.0, baseline_cell)
        )
        versus.add(f"added time to first chunk, {name}", tp - dp, old_added, "≤ 0.6 ×")
        kept, detail = scenarios.gaps_kept(stats)
        detail += f"; {errors} failed streams" if errors else ""
        streams.append(Row(f"{name}: 50 ms gaps kept", result=detail, budget="kept (±10%), none merged", ok=kept and not errors))
        log(f"streams {target.name}: TTFC {dp:.3f} → {tp:.3f} ms; {detail}")

    fail = report.section("4. failover under load")
    result = await scenarios.failover(gateway.port, SHARED_MODEL, llamafarm, plan)
    served = ", ".join(f"{k} {v}" for k, v in sorted(result.by_backend.items()))
    fail.append(
        Row(
            f"{result.sent} × `{SHARED_MODEL}` at c=16, LlamaFarm SIGKILLed at #{result.kill_at}",
            result=f"lost {result.lost} (served: {served}; {result.elapsed_s:.1f} s)",
            budget="lost = 0",
            ok=result.lost == 0,
        )
    )
    if result.lost_examples:
        report.notes.append("failover losses, e.g.: " + " | ".join(result.lost_examples))
    log(f"failover: lost {result.lost} of {result.sent} ({served})")
    await asyncio.sleep(0.5)
    loaded_rss = rss_mb(gateway.pid)

    disc = report.section(f"5. discovery (GET /v1/integrations?refresh=true, probe timeout {ops.PROBE_TIMEOUT:g} s)")
    for scan in await ops.discovery(children, ollama, plan):
        budget = 100.0 if scan.case == "both refusing" else ops.PROBE_TIMEOUT * 1000 + 100
        statuses = ", ".join(f"{k} {v}" for k, v in scan.statuses.items())
        outcome = f"p50 {ms(scan.p50, 1)}, worst {ms(scan.worst, 1)} ({statuses})"
        name = f"scan, {scan.case} ({len(scan.times_ms)} scans)"
        disc.append(Row(name, result=outcome, budget=f"worst ≤ {budget:,.0f} ms", ok=scan.worst <= budget))
        log(f"scan {scan.case}: worst {scan.worst:.1f} ms ({statuses})")

    ws = report.section(f"6. WebSocket fan-out (health interval {ops.WS_HEALTH_INTERVAL:g} s)")
    fan = await ops.ws_fanout(children, plan)
    missed = f"; {fan.missed} never told" if fan.missed else ""
    timing = f"{fan.kill_to_first_ms:.1f} / {fan.kill_to_last_ms:.1f} ms{missed}"
    ws.append(Row(f"{fan.clients} clients on /ws, Ollama SIGKILLed: kill → first / last client", result=timing))
    ok = fan.spread_ms <= 1000 and not fan.missed
    ws.append(Row("first → last client (detection ≈ first)", result=f"{fan.spread_ms:.1f} ms", budget="≤ 1,000 ms", ok=ok))
    log(f"ws: kill→first {fan.kill_to_first_ms:.1f} ms, kill→last {fan.kill_to_last_ms:.1f} ms, spread {fan.spread_ms:.1f} ms")

    mem = report.section("7. memory (VmRSS of the gateway process)")
    budget = f"≤ {IDLE_RSS_MB:.0f} MB"
    old_cell = f"{old_rss:.1f} MB" if old_rss is not None else ""
    mem.append(
        Row("idle, 2 s after start", result=f"{idle_rss:.1f} MB", budget=budget, ok=idle_rss <= IDLE_RSS_MB, baseline=old_cell)
    )
    mem.append(Row("after the load (sections 1-4)", result=f"{loaded_rss:.1f} MB"))
    versus.add("idle RSS (MB)", idle_rss, old_rss, "≤ 1 ×")
    if old is not None:
        old.stop()
        _versus_section(report, versus)
    await fleet.section(children, plan, report)
    await resilience.section(children, ollama, plan, report)
    await usage.section(children, ollama, plan, report)
    report.notes += _notes(plan, targets, gateway)
    if args.peers:
        from bench.peers import measure_peers

        await measure_peers(args.peers, children, ollama, plan, report)


def _versus_section(report: Report, versus: Comparison) -> None:
    """Issue 19's comparisons: this tree against the baseline commit, every figure from this run."""
    section = report.section(f"10. against the baseline {report.baseline.split()[0]} (same run, same blocks)")
    for measure, ours, theirs, budget, higher in versus.rows:
        ratio = ours / theirs if theirs > 0 else float("nan")
        limit = float(budget.split()[1])
        ok = ratio >= limit if higher else ratio <= limit
        section.append(Row(measure, result=f"{ratio:.2f} × ({ours:,.2f} vs {theirs:,.2f})", budget=budget, ok=ok))


async def _cpu(
    report: Report, targets: list[Target], gateway: Gateway, old: Gateway | None, plan: Plan, versus: Comparison
) -> None:
    """Gateway CPU (utime+stime) per sequential request, plain and streamed (section 1c)."""
    requests = 500 if plan.quick else 2000
    rows = report.section(f"1c. gateway CPU per request (utime+stime over {requests:,} sequential requests, Ollama chat)")
    target = targets[1]
    for label, stream, budget in (("plain", False, 400.0), ("streamed", True, 600.0)):
        delimiter = b"\n\n" if stream else b""
        sides = {"through": cpu.Side(gateway.pid, gateway.port, target.sides(stream)["through"][1], delimiter)}
        if old is not None:
            sides["baseline"] = cpu.Side(old.pid, old.port, target.sides(stream)["baseline"][1], delimiter)
        used = await cpu.per_request_us(sides, requests)
        theirs = used.get("baseline")
        result = f"{used['through']:.0f} µs" + (f" ({used['through'] / theirs:.2f} × baseline's)" if theirs else "")
        ok = used["through"] <= budget
        old_cell = f"{theirs:.0f} µs" if theirs else ""
        rows.append(Row(f"{label}", result=result, budget=f"≤ {budget:.0f} µs (quiet machine)", ok=ok, baseline=old_cell))
        versus.add(f"CPU per request, {label} (µs)", used["through"], theirs, "≤ 1 ×")
        log(f"cpu {label}: {used}")


async def _cpu_only(plan: Plan, report: Report, children: Children, base: tuple[Path, str] | None) -> None:
    """Idle RSS and section 1c alone (``--only cpu``), both gateways started as ``_run`` starts them."""
    ollama, llamafarm = await asyncio.gather(
        children.add(StandIn("ollama")), children.add(StandIn("llamafarm", "--shared-alias", SHARED_MODEL))
    )
    gateway = Gateway(llamafarm_url=llamafarm.url, ollama_url=ollama.url)
    old: Gateway | None = None
    if base is not None:
        report.baseline = base[1]
        old = Gateway(root=base[0], llamafarm_url=llamafarm.url, ollama_url=ollama.url)
    await asyncio.gather(*(children.add(g) for g in (gateway, old) if g is not None))
    await asyncio.sleep(max(0.0, max(g.started_at for g in (gateway, old) if g is not None) + 2.0 - time.monotonic()))
    idle_rss, old_rss = rss_mb(gateway.pid), rss_mb(old.pid) if old is not None else None
    versus = Comparison()
    mem = report.section("7. memory")
    old_cell = f"{old_rss:.1f} MB" if old_rss is not None else ""
    budget = f"≤ {IDLE_RSS_MB:.0f} MB"
    ok = idle_rss <= IDLE_RSS_MB
    mem.append(Row("idle, 2 s after start", result=f"{idle_rss:.1f} MB", budget=budget, ok=ok, baseline=old_cell))
    versus.add("idle RSS (MB)", idle_rss, old_rss, "≤ 1 ×")
    target = scenarios.ollama_target(ollama.port, gateway.port, baseline_port=old.port if old is not None else 0)
    await scenarios.warm_up(target)
    await _cpu(report, [target, target], gateway, old, plan, versus)
    if versus.rows:
        _versus_section(report, versus)


async def _surfaces(report: Report, ollama: StandIn, gateway: Gateway, plan: Plan) -> None:
    """Each client protocol's added latency beside OpenAI chat's (section 1b)."""
    rows = report.section(f"1b. every surface, same Ollama chat, concurrency 1 (added ≤ {surfaces.RATIO:g} × chat's)")
    for label, measure in (("p50", surfaces.added_latency), ("stream: time to first chunk p50", surfaces.time_to_first_chunk)):
        direct, measured = await measure(ollama.port, gateway.port, "qwen2.5:0.5b", plan)
        chat = next(m for m in measured if m.path == surfaces.CHAT)
        for m in measured:
            budget, ok = "", None  # chat is the yardstick, not judged here
            if m.path != surfaces.CHAT:
                limit = surfaces.RATIO * chat.added_ms
                budget, ok = f"added ≤ {limit:.2f} ms", m.added_ms <= limit and not m.errors
            errors = f"; {m.errors} errors" if m.errors else ""
            rows.append(Row(f"POST {m.path}: {label}", ms(direct), ms(m.p50_ms), _added(direct, m.p50_ms) + errors, budget, ok))
            log(f"surface {m.path} {label}: {direct:.3f} → {m.p50_ms:.3f} ms")


def _notes(plan: Plan, targets: list[Target], gateway: Gateway) -> list[str]:
    blocks = (
        f"c=1: {plan.c1_rounds} rounds of {plan.c1_block} requests per side; c=32: {plan.c32_rounds} rounds of "
        f"{plan.c32_block_s:g} s per side; streams: {plan.ttfc_rounds} rounds of {plan.ttfc_block} per side"
    )
    return [
        ("quick run: " if plan.quick else "full run: ") + blocks + "; direct and through blocks alternate after a warm-up.",
        "direct = the same request straight to the stand-in (LlamaFarm's project route or Ollama's /api/chat); "
        "through = POST /v1/chat/completions on the gateway.",
        "latencies are measured by the load generator from writing the request to the last byte of the answer "
        "(to the first event for time to first chunk).",
        f"the gateway wrote {gateway.log_lines()} log lines at level warning (mostly the failover).",
    ]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    default = ROOT / ("test-artifacts/bench-usage.md" if args.only == "usage" else "bench/RESULTS.md")
    output = args.output if args.output is not None else default
    factory, loop_name = loop_factory()
    title = "Atmosphere benchmark" + (" (quick)" if args.quick else "")
    report = Report(title)
    started, load_before = time.monotonic(), os.getloadavg()[0]
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(run(args, report))
    report.notes.append(f"the whole run took {time.monotonic() - started:.0f} s.")
    print(text_table(report))
    write(output, markdown(report, machine_info(loop_name, load_before)))
    print(f"\nwritten to {output}")
    if report.failed:
        print("missed: " + "; ".join(r.measure for r in report.failed), file=sys.stderr)
        return 0 if args.no_thresholds else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
