"""Ready-made setups of the emulators that reproduce what real installs did (issue 11).

Each is plain data or a switch on an `EmulatorState`, so a test (or `python -m harness
... --scene NAME`) can set one up in a line:

- `real_world_projects`: several projects whose model names repeat (`default`, `fast`),
  in two namespaces, with every provider (`universal`, `ollama`, `openai` on a local and
  on a hosted `base_url`, each with an `api_key` the real per-project route leaks) and
  one project LlamaFarm lists with a `validation_error`.
- `cloud_ollama_models`: Ollama cloud entries (`remote_host`/`remote_model`).
- `ollama_054`: the 0.5.4 shape (no `capabilities`, 404 for a wrong method, older wording).
- `llamafarm_0027`: the switches for what 0.0.27 did that the defaults soften: a slow
  `/health`, 422 for a project that vanished, the ~1.6 s before a dead provider's 500.
- `wire_llamafarm`: point a LlamaFarm emulator at the Ollama and runtime stand-ins it
  "uses", so its `/health` components and chat follow them up and down.
"""

from __future__ import annotations

from collections.abc import Callable

from atmosphere.standins.catalog import OllamaModel, Project, ProjectModel, ollama_models
from atmosphere.standins.state import EmulatorState

# Values a secret-leak test looks for: none may ever appear in a gateway answer or log.
LOCAL_API_KEY = "sk-local-cpp-0123456789abcdef"
HOSTED_API_KEY = "sk-live-hosted-fedcba9876543210"
HOSTED_BASE_URL = "https://api.hosted-llm.example/v1"  # never contacted, by anyone
INVALID_PROVIDER_ERROR = "runtime.models.0.provider: Input should be 'openai', 'ollama', 'lemonade' or 'universal'"


def real_world_projects(openai_base_url: str = "http://127.0.0.1:21600/v1", *, second_namespace: str = "team") -> list[Project]:
    """The projects of a lived-in install. Projects without a namespace live in the app's own.

    `openai_base_url` is the local OpenAI-style server the `cpp` model uses (point it at a
    running stand-in, e.g. the runtime emulator's `/v1`, to make it answer).
    """
    return [
        Project(
            name="chatbot",
            default_model="fast",
            models=[
                ProjectModel("fast", "universal", "tiny/tiny-llama-GGUF", description="tiny GGUF on the Universal Runtime"),
                ProjectModel("cpp", "openai", "tiny-llama", base_url=openai_base_url, api_key=LOCAL_API_KEY),
                ProjectModel("ollama", "ollama", "qwen2.5:0.5b"),
            ],
        ),
        Project(
            # Created from LlamaFarm's template: a list of models and no default_model.
            name="notes",
            default_model=None,
            models=[
                ProjectModel("default", "universal", "unsloth/Qwen3-1.7B-GGUF:Q4_K_M"),
                ProjectModel("fast", "ollama", "llama3.2:latest"),
            ],
        ),
        Project(
            name="hosted",
            default_model="default",
            models=[ProjectModel("default", "openai", "gpt-4o-mini", base_url=HOSTED_BASE_URL, api_key=HOSTED_API_KEY)],
        ),
        Project(
            # Alphabetically first, so a gateway that takes "the first project" picks it.
            name="aaa-broken",
            default_model="default",
            models=[ProjectModel("default", "nonsense", "whatever")],
            validation_error=INVALID_PROVIDER_ERROR,
        ),
        Project(
            name="chatbot",
            namespace=second_namespace,
            default_model="fast",
            models=[ProjectModel("fast", "ollama", "qwen2.5:0.5b"), ProjectModel("default", "universal", "tiny/tiny-llama-GGUF")],
        ),
    ]


def cloud_ollama_models() -> list[OllamaModel]:
    """Cloud entries as `ollama signin` adds them: tiny on disk, served by ollama.com."""
    return ollama_models("cloud")


def ollama_054(state: EmulatorState) -> EmulatorState:
    """Switch an Ollama emulator to what the real 0.5.4 (IPEX-LLM build) answered."""
    state.ollama_version = "0.5.4-ipexllm-20250407"
    state.with_capabilities = False
    state.wrong_method_status = 404
    state.legacy_not_found = True
    return state


def llamafarm_0027(state: EmulatorState) -> EmulatorState:
    """Switch a LlamaFarm emulator to 0.0.27's slow health and its 422 for a vanished project."""
    state.llamafarm_version = "0.0.27"
    state.health_delay = 1.2
    state.chat_failure_delay = 1.6
    state.missing_project_status = 422
    state.finish_usage = True
    return state


def wire_llamafarm(state: EmulatorState, *, ollama_url: str | None, runtime_url: str | None) -> EmulatorState:
    """Make a LlamaFarm emulator use these stand-ins as its Ollama and Universal Runtime."""
    state.lf_ollama_url = ollama_url
    state.lf_runtime_url = runtime_url
    return state


def _real_world(state: EmulatorState) -> EmulatorState:
    state.projects[:] = real_world_projects()
    return state


def _cloud(state: EmulatorState) -> EmulatorState:
    state.models.extend(cloud_ollama_models())
    return state


SCENES: dict[str, Callable[[EmulatorState], EmulatorState]] = {
    "real-world": _real_world,
    "cloud": _cloud,
    "ollama-0.5.4": ollama_054,
    "llamafarm-0.0.27": llamafarm_0027,
}
