"""Peer gateways in front of the same stand-in, for comparison (`--peers litellm`).

LiteLLM's proxy is installed into its own virtual environment under bench/.peers (never
into the project's), configured to reach Ollama's stand-in through its native /api/chat
route, and measured exactly as the gateway is: alternating with direct blocks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import scenarios
from bench.procs import ROOT, Child, Children, StandIn, free_port, rss_mb, wait_http
from bench.report import Report, Row, ms
from bench.scenarios import Plan

PEERS_DIR = ROOT / "bench" / ".peers"
LITELLM_SPEC = "litellm[proxy]"
MODEL = "qwen2.5:0.5b"


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_litellm() -> Path:
    """The `litellm` executable of bench/.peers/litellm, created and installed on first use."""
    venv = PEERS_DIR / "litellm"
    exe = venv / "bin" / "litellm"
    if exe.exists():
        return exe
    _log(f"installing {LITELLM_SPEC} into {venv} (once)")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", LITELLM_SPEC], check=True)
    return exe


class LiteLLM(Child):
    """`litellm --config ...` routing one model to Ollama's stand-in."""

    def __init__(self, exe: Path, ollama_url: str) -> None:
        self.exe = exe
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="litellm-bench-"))
        config = self.workdir / "config.yaml"
        config.write_text(
            "model_list:\n"
            f"  - model_name: {MODEL}\n"
            "    litellm_params:\n"
            f"      model: ollama_chat/{MODEL}\n"
            f"      api_base: {ollama_url}\n"
            "litellm_settings:\n"
            "  telemetry: false\n"
            "  drop_params: true\n"
        )
        self.config = config
        self.key = "sk-bench-" + secrets.token_hex(16)  # it refuses to start without one

    async def start(self) -> LiteLLM:
        env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR", NO_DOCS="True")
        env["LITELLM_MASTER_KEY"] = self.key
        with open(self.workdir / "litellm.log", "wb") as log:
            cmd = [str(self.exe), "--config", str(self.config), "--host", "127.0.0.1", "--port", str(self.port)]
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        try:
            await wait_http(self.port, "/health/liveliness", timeout=120)
        except RuntimeError:
            self.kill()
            raise RuntimeError(f"LiteLLM did not start; log:\n{(self.workdir / 'litellm.log').read_text()[-2000:]}") from None
        return self


async def measure_peers(peers: list[str], children: Children, ollama: StandIn, plan: Plan, report: Report) -> None:
    if "litellm" not in peers:
        return
    plan = dataclasses.replace(plan, c1_block=min(plan.c1_block, 200), ttfc_block=min(plan.ttfc_block, 100))  # it is slow
    exe = await asyncio.to_thread(ensure_litellm)
    peer = await children.add(LiteLLM(exe, ollama.url))
    await asyncio.sleep(2.0)
    idle = rss_mb(peer.pid)
    target = scenarios.ollama_target(ollama.port, peer.port, MODEL, {"Authorization": f"Bearer {peer.key}"})
    rows = report.section(f"peer: LiteLLM proxy → Ollama stand-in ({MODEL}); 'through' = via LiteLLM")
    await scenarios.warm_up(target)
    p = await scenarios.non_streaming(target, 1, plan)
    d, t = scenarios.summary(p.direct), scenarios.summary(p.through)
    rows.append(Row("c=1: p50 / p99", _p50_p99(d), _p50_p99(t), f"+{t['p50'] - d['p50']:.2f} ms at p50"))
    p = await scenarios.non_streaming(target, 32, plan)
    d, t = scenarios.summary(p.direct), scenarios.summary(p.through)
    errors = f"; {int(t['errors'])} errors" if t["errors"] else ""
    rows.append(Row("c=32: p50 / p99", _p50_p99(d), _p50_p99(t), errors.strip("; ")))
    rows.append(Row("c=32: requests/s", f"{d['rps']:,.0f}", f"{t['rps']:,.0f}", f"{t['rps'] / d['rps']:.1%} of direct"))
    stats = await scenarios.streaming(target, ollama, plan)
    dp, tp = scenarios.median(stats["direct"].ttfc_ms), scenarios.median(stats["through"].ttfc_ms)
    rows.append(Row("streaming: time to first chunk p50", ms(dp), ms(tp), f"+{tp - dp:.2f} ms"))
    kept, detail = scenarios.gaps_kept(stats)
    rows.append(Row("streaming: 50 ms gaps kept", result=("kept: " if kept else "not kept: ") + detail))
    rows.append(Row("VmRSS of the proxy, 2 s after start / after the load", result=f"{idle:.1f} / {rss_mb(peer.pid):.1f} MB"))
    _log(f"LiteLLM: c=32 {t['rps']:,.0f} req/s; TTFC {tp:.2f} ms")
    peer.stop()


def _p50_p99(stats: dict[str, float]) -> str:
    return f"{stats['p50']:.2f} / {stats['p99']:.2f} ms"
