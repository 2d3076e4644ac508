"""Which capability a free-text intent asks for (router/intent.py, for /v1/execute). (The
endpoint itself, through the gateway: test_actions.py.)"""

from __future__ import annotations

import pytest

from atmosphere.router.intent import infer_capability


@pytest.mark.parametrize(
    "intent, capability",
    [
        ("embed these paragraphs for search", "embeddings"),
        ("turn this text into VECTORS", "embeddings"),
        ("rank by similarity", "embeddings"),
        ("complete this sentence: the sky is", "generate"),
        ("Write a haiku about rain", "generate"),
        ("what is the capital of France?", "chat"),
        ("", "chat"),
    ],
)
def test_an_intent_names_the_capability_it_needs_and_chat_is_the_default(intent: str, capability: str) -> None:
    assert infer_capability(intent) == capability


def test_words_count_whole_and_vectors_win_over_writing() -> None:
    assert infer_capability("rewrite nothing, embedded systems question") == "chat"  # neither word stands alone
    assert infer_capability("write the embeddings of this") == "embeddings"
