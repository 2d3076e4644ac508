"""LangChain's ChatOpenAI and OpenAIEmbeddings pointed at Atmosphere, as a LangChain user would."""

from __future__ import annotations

import openai
import pytest
import tiktoken
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI, OpenAIEmbeddings


def _chat(gateway, **kwargs):
    return ChatOpenAI(base_url=f"{gateway.url}/v1", api_key="not-needed", max_retries=0, timeout=10, **kwargs)


def _embeddings(gateway, **kwargs):
    return OpenAIEmbeddings(base_url=f"{gateway.url}/v1", api_key="not-needed", max_retries=0, timeout=10, **kwargs)


@pytest.mark.parametrize("model, marker", [("fast", "LlamaFarm"), ("llama3.2", "Ollama")])
def test_chat_openai_invokes_and_streams_through_each_backend(gateway, model, marker):
    llm = _chat(gateway, model=model, temperature=0.2)
    reply = llm.invoke("Say hi")
    assert marker in reply.content and "Say hi" in reply.content
    assert reply.usage_metadata["total_tokens"] == reply.usage_metadata["input_tokens"] + reply.usage_metadata["output_tokens"]
    streamed = "".join(chunk.content for chunk in llm.stream("stream please"))
    assert marker in streamed and "stream please" in streamed


def test_chat_openai_runs_a_tool_round_trip_on_ollama(gateway):
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"18 degrees in {city}"

    llm = _chat(gateway, model="llama3.2").bind_tools([get_weather])
    question = HumanMessage("Weather in Paris?")
    first = llm.invoke([question])
    call = first.tool_calls[0]
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}
    answer = llm.invoke([question, first, ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"])])
    assert "18 degrees in Paris" in answer.content


def test_chat_openai_on_the_responses_api(gateway):
    reply = _chat(gateway, model="llama3.2", use_responses_api=True).invoke("Say hi")
    assert "Ollama emulator" in reply.text


@pytest.fixture
def offline_tokenizer(monkeypatch):
    """OpenAIEmbeddings tokenizes with tiktoken, whose encodings are downloaded on first use,
    which this machine cannot do: give it a byte-level encoding made here (one token per byte)."""
    encoding = tiktoken.Encoding(
        name="bytes", pat_str=r"[\s\S]", mergeable_ranks={bytes([i]): i for i in range(256)}, special_tokens={}
    )

    def unknown_model(_name: str) -> tiktoken.Encoding:
        raise KeyError(_name)  # as for any non-OpenAI model name: LangChain falls back to cl100k_base

    monkeypatch.setattr(tiktoken, "encoding_for_model", unknown_model)
    monkeypatch.setattr(tiktoken, "get_encoding", lambda _name: encoding)


def test_default_openai_embeddings_get_a_400_that_names_the_langchain_fix(gateway, offline_tokenizer):
    with pytest.raises(openai.BadRequestError) as caught:
        _embeddings(gateway, model="nomic-embed-text").embed_documents(["alpha"])
    assert "check_embedding_ctx_length=False" in caught.value.body["message"]


def test_openai_embeddings_with_text_input_work_on_each_backend(gateway):
    for model, size in (("nomic-embed-text", 768), ("sentence-transformers/all-MiniLM-L6-v2", 384)):
        vectors = _embeddings(gateway, model=model, check_embedding_ctx_length=False).embed_documents(["alpha", "beta"])
        assert len(vectors) == 2 and all(len(v) == size for v in vectors)
