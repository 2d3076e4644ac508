"""Configuring several hosts of each kind: ids, names and Universal Runtime URLs."""

from __future__ import annotations

import pytest

from atmosphere.config import ConfigError, load_settings


def test_several_ollama_hosts_get_stable_ids_from_what_the_operator_wrote() -> None:
    settings = load_settings(ollama_url="http://a:11434, gpu=http://gpu-box:11434,http://10.0.0.5:11434")
    ids = [h.id for h in settings.hosts() if h.kind == "ollama"]
    assert ids == ["ollama", "gpu", "ollama-10-0-0-5-11434"]


def test_llamafarm_hosts_come_first_and_their_runtime_defaults_to_the_same_host() -> None:
    settings = load_settings(ollama_url="http://o:11434", llamafarm_url="http://lf:14345,lab=http://lab:14345|http://lab-rt:9000")
    hosts = settings.hosts()
    assert [h.id for h in hosts] == ["llamafarm", "lab", "ollama"]
    assert hosts[0].runtime_url == "http://lf:11540"
    assert hosts[1].runtime_url == "http://lab-rt:9000"


def test_the_runtime_setting_still_names_the_first_llamafarm_hosts_runtime() -> None:
    settings = load_settings(llamafarm_url="http://lf:14345", llamafarm_runtime_url="http://rt:1")
    assert settings.hosts()[0].runtime_url == "http://rt:1"


@pytest.mark.parametrize(
    ("ollama", "says"),
    [
        ("http://a:1,http://b:2|http://c:3", "only LlamaFarm"),
        ("ftp://a", "http:// or https://"),
        ("x=http://a:1,x=http://b:1", "two integrations would have the id 'x'"),
        ("bad name!=http://a:1", "integration name"),
    ],
)
def test_a_bad_host_list_stops_start_up_with_one_line_naming_it(ollama: str, says: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(ollama_url=ollama)
    assert says in str(error.value) and "\n" not in str(error.value)
