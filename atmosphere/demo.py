"""``atmosphere demo``: the whole loop without Ollama or LlamaFarm installed.

``standins(settings)`` starts the stand-ins (of Ollama, the LlamaFarm server and its
Universal Runtime) on free or chosen ports and yields a ``Demo`` whose
settings point at them; the CLI serves those settings. ``serve`` never does this: the real
LlamaFarm and Ollama are always its default. While the demo runs, lines typed on its terminal stop
and start one stand-in (``stop ollama``), so fallback can be watched for real.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from atmosphere.config import STANDINS, Settings, standin_ports
from atmosphere.standins.suite import EmulatorSuite, start_all_in_process

_BANNER = """\
┌─ Atmosphere demo ─────────────────────────────────────────────────────────────
│ These integrations are STAND-INS (from Atmosphere's tests), not real models:
│   LlamaFarm (stand-in)          {llamafarm}
│   Universal Runtime (stand-in)  {runtime}
│   Ollama (stand-in)             {ollama}
│ Their replies are canned text. For your own LlamaFarm and Ollama, run `atmosphere serve`.
│
│ Dashboard:        http://{host}:{port}/
│ OpenAI base URL:  http://{host}:{port}/v1
│ Try:  curl http://{host}:{port}/v1/integrations
│ Watch fallback: type `stop llamafarm` and Enter here (chat moves to Ollama, the
│ dashboard shows it offline); `start llamafarm` brings it back. Also: stop/start ollama.
│ Or break one without stopping it ("none" heals it):
│   curl -X POST {llamafarm}/_emulator/fault -d '{{"fault": "error500"}}'
└───────────────────────────────────────────────────────────────────────────────"""


@dataclass
class Demo:
    """Running stand-ins and the settings that point the gateway at them."""

    settings: Settings
    suite: EmulatorSuite

    def banner(self, host: str, port: int) -> str:
        return _BANNER.format(host=host, port=port, **self.suite.urls)

    def command(self, line: str) -> str | None:
        """``stop NAME`` / ``start NAME``: the answer to print, or None for a blank line."""
        words = line.split()
        if not words:
            return None
        if len(words) != 2 or words[0] not in ("stop", "start") or words[1] not in STANDINS:
            return f"demo: type `stop NAME` or `start NAME`, NAME one of {', '.join(STANDINS)}"
        action, name = words
        server = self.suite.servers[name]
        if action == "stop":
            server.stop()
        else:
            server.start()
        return f"demo: {name} stand-in {'stopped' if action == 'stop' else 'started'} ({server.url})"

    def listen(self, lines: TextIO = sys.stdin, out: TextIO = sys.stderr) -> threading.Thread:
        """Read commands from ``lines`` in the background until it ends (no terminal: at once)."""

        def run() -> None:
            for line in lines:
                answer = self.command(line)
                if answer:
                    print(answer, file=out, flush=True)

        thread = threading.Thread(target=run, name="demo-console", daemon=True)
        thread.start()
        return thread


@contextmanager
def standins(settings: Settings) -> Iterator[Demo]:
    """Start the stand-ins (ports from ``settings.standin_ports``), stop them on exit."""
    ports = standin_ports(settings.standin_ports)
    suite = start_all_in_process(ollama_port=ports["ollama"], llamafarm_port=ports["llamafarm"], runtime_port=ports["runtime"])
    try:
        demo_settings = settings.model_copy(
            update={
                "llamafarm_url": suite.llamafarm.url,
                "ollama_url": suite.ollama.url,
                "llamafarm_runtime_url": suite.runtime.url,
                "state_dir": settings.state_dir / "demo",  # demo choices never touch the real ones
            }
        )
        yield Demo(demo_settings, suite)
    finally:
        suite.stop()
