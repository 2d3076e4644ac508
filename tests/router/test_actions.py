"""The dashboard's Test button and the intent endpoint."""

from __future__ import annotations


def run_test(gateway, **body):
    with gateway.client() as client:
        response = client.post("/v1/integrations/test", json=body)
    assert response.status_code == 200
    return response.json()


def test_testing_each_integration_runs_the_prompt_there_only(gateway, backends):
    result = run_test(gateway, integration_id="ollama", prompt="Say hi")
    assert result["success"] is True and result["error"] is None
    assert "Ollama emulator" in result["response"] and "Say hi" in result["response"]
    assert result["model_used"] == "llama3.2:latest"
    assert result["latency_ms"] > 0
    result = run_test(gateway, integration_id="llamafarm", prompt="Say hi", model="smart")
    assert result["success"] is True and "chatbot/smart" in result["response"]


def test_a_failing_backend_is_a_result_not_an_http_error(gateway, backends):
    backends.ollama.state.set_fault("error500")
    result = run_test(gateway, integration_id="ollama", prompt="Say hi")
    assert result["success"] is False
    assert "HTTP 500" in result["error"]
    assert result["response"] is None


def test_testing_never_falls_back(gateway, backends):
    backends.llamafarm.stop()
    result = run_test(gateway, integration_id="llamafarm", prompt="Say hi", model="fast")
    assert result["success"] is False and "refused" in result["error"]
    assert backends.ollama.state.recorded("/api/chat") == []


def execute(gateway, status: int = 200, **body):
    with gateway.client() as client:
        response = client.post("/v1/execute", json=body)
    assert response.status_code == status, response.text
    return response.json()


def test_execute_infers_chat_and_reports_the_backend(gateway):
    result = execute(gateway, intent="Tell me a joke")
    assert result["success"] is True and result["capability"] == "chat"
    assert result["backend"] == "llamafarm" and result["model"] == "fast"
    assert "Tell me a joke" in result["data"]["response"]
    assert result["attempts"] == [] and result["execution_time_ms"] > 0


def test_execute_infers_embeddings_from_the_intent(gateway):
    result = execute(gateway, intent="embed this sentence as a vector")
    assert result["capability"] == "embeddings"
    assert len(result["data"]["embeddings"]) == 1


def test_execute_generate_with_an_ollama_model(gateway):
    result = execute(
        gateway, intent="continue: once upon", capability="generate", model="qwen2.5:0.5b", params={"max_tokens": 50}
    )
    assert result["backend"] == "ollama"
    assert "once upon" in result["data"]["text"]


def test_execute_lists_attempts_when_it_falls_back(gateway, backends):
    backends.llamafarm.state.set_fault("error500")
    result = execute(gateway, intent="hello there")
    assert result["backend"] == "ollama"
    assert result["attempts"][0]["backend"] == "llamafarm"


def test_execute_with_nothing_reachable_says_why(make_gateway):
    result = execute(make_gateway(), 503, intent="hello")
    assert result["success"] is False and "llamafarm" in result["error"]
    assert {a["backend"] for a in result["attempts"]} == {"llamafarm", "ollama"}


def test_execute_generate_rejects_bad_parameters(gateway):
    error = execute(gateway, 400, intent="continue: x", capability="generate", params={"temperature": 9})["error"]
    assert error["param"] == "temperature"
    error = execute(gateway, 400, intent="continue: x", capability="generate", params={"stop": [1]})["error"]
    assert error["param"] == "stop"
