"""`atmosphere demo`: stand-ins on chosen ports, and a console line to stop or start one."""

from __future__ import annotations

import io
import socket

import httpx
import pytest

from atmosphere.config import ConfigError, load_settings
from atmosphere.demo import standins


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_stand_ins_listen_on_the_ports_asked_for_and_the_settings_point_there(tmp_path):
    port = free_port()
    settings = load_settings(state_dir=str(tmp_path), standin_ports=f"ollama={port}")

    with standins(settings) as demo:
        assert demo.suite.ollama.port == port
        assert demo.settings.ollama_url == f"http://127.0.0.1:{port}"
        assert demo.settings.llamafarm_url == demo.suite.llamafarm.url
        assert demo.settings.state_dir == tmp_path / "demo"  # never the real choices
        assert httpx.get(f"{demo.settings.ollama_url}/api/version").status_code == 200


def test_stopping_a_stand_in_from_the_console_refuses_connections_until_it_is_started(tmp_path):
    with standins(load_settings(state_dir=str(tmp_path))) as demo:
        url = demo.suite.llamafarm.url
        out = io.StringIO()
        demo.listen(io.StringIO("stop llamafarm\n"), out).join(5)

        assert "llamafarm stand-in stopped" in out.getvalue()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/health/liveness")
        assert "started" in (demo.command("start llamafarm") or "")
        assert httpx.get(f"{url}/health/liveness").status_code == 200
        assert "NAME one of" in (demo.command("stop everything") or "")


def test_a_bad_stand_in_port_list_is_one_line_naming_the_setting():
    with pytest.raises(ConfigError, match="ATMOSPHERE_STANDIN_PORTS: each entry must be NAME=PORT"):
        load_settings(standin_ports="ollama=lots")
