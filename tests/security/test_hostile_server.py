"""Threat model, model servers: every field of an OpenAI-compatible server's reply is checked before it
reaches a record (and from there the HTML report)."""

from __future__ import annotations

import pytest

from harness.engines import Request
from harness.engines.openai import parse_response
from loomcore.errors import RuntimeFailure

REQUEST = Request("r0", "prompt", 8, ("\n",))


@pytest.mark.parametrize("usage", [{"completion_tokens": "<script>alert(1)</script>"}, {"completion_tokens": -3},
                                   {"completion_tokens": 2.5}, {"completion_tokens": True}, "many"])
def test_a_reply_whose_usage_is_not_a_token_count_is_refused(usage):
    reply = {"choices": [{"text": "Paris", "finish_reason": "length"}], "usage": usage}
    with pytest.raises(RuntimeFailure, match="usage"):
        parse_response(reply, REQUEST, "completions")


@pytest.mark.parametrize("reply", [[], {"choices": "x"}, {"choices": [5]}, {"choices": [{"text": ["<b>"]}]},
                                   {"choices": [{"message": "hi", "finish_reason": "stop"}]}])
def test_a_reply_of_the_wrong_shape_is_a_runtime_failure_not_a_crash(reply):
    endpoint = "chat" if "message" in str(reply) else "completions"
    with pytest.raises(RuntimeFailure):
        parse_response(reply, REQUEST, endpoint)


def test_a_well_formed_reply_still_parses():
    reply = {"choices": [{"text": "Paris\nmore", "finish_reason": "length"}], "usage": {"completion_tokens": 4}}
    assert parse_response(reply, REQUEST, "completions") == ("Paris", "stop", 4)
