"""``atmosphere demo``: the whole loop without Ollama or LlamaFarm installed.

Starts the test emulators as clearly labelled stand-in backends on free ports and
serves Atmosphere pointed at them. ``serve`` never does this: real backends are
always its default.
"""

from __future__ import annotations

import sys

from atmosphere.config import Settings
from atmosphere.standins.suite import start_all_in_process

_BANNER = """\
┌─ Atmosphere demo ─────────────────────────────────────────────────────────────
│ These backends are STAND-INS (emulators from Atmosphere's tests), not real models:
│   LlamaFarm (stand-in)          {llamafarm}
│   Universal Runtime (stand-in)  {runtime}
│   Ollama (stand-in)             {ollama}
│ Their replies are canned text. To use your real backends run `atmosphere serve`.
│
│ Dashboard:        http://{host}:{port}/
│ OpenAI base URL:  http://{host}:{port}/v1
│ Try:  curl http://{host}:{port}/v1/integrations
│ Break a stand-in to watch fallback, and the dashboard react (then "none" to heal it):
│   curl -X POST {llamafarm}/_emulator/fault -d '{{"fault": "error500"}}'
└───────────────────────────────────────────────────────────────────────────────"""


def run_demo(settings: Settings) -> int:
    from atmosphere.cli import serve

    suite = start_all_in_process()
    try:
        demo_settings = settings.model_copy(
            update={
                "llamafarm_url": suite.llamafarm.url,
                "ollama_url": suite.ollama.url,
                "llamafarm_runtime_url": suite.runtime.url,
                "state_dir": settings.state_dir / "demo",  # demo choices never touch the real ones
            }
        )
        print(_BANNER.format(host=settings.host, port=settings.port, **suite.urls), file=sys.stderr, flush=True)
        return serve(demo_settings)
    finally:
        suite.stop()
