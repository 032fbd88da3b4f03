"""redact_secrets masks keys wherever they sit; url_credentials and secret_fields find them."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from toolgym._secrets import redact_secrets, secret_fields, url_credentials

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
B64URL = ALNUM + "_-"
TOKEN = ALNUM + "._~+/=-"
URLSAFE = ALNUM + "._~-"
HEX = "0123456789abcdef"

# The secret part of each format: what must never reach the output.
body = st.text(alphabet=B64URL, min_size=20, max_size=80)
token_body = st.text(alphabet=TOKEN, min_size=16, max_size=80)
url_body = st.text(alphabet=URLSAFE, min_size=16, max_size=60)
hex_body = st.text(alphabet=HEX, min_size=32, max_size=64)


@st.composite
def embedded_key(draw: st.DrawFn) -> tuple[str, str]:
    """(a key in one of the contexts where servers echo them, its secret part)."""
    formats = [
        (body, "sk-{}"), (body, "sk-proj-{}"), (body, "sk-ant-api03-{}"),
        (token_body, "Bearer {}"), (token_body, "bearer {}"),
        (token_body, "Authorization: Bearer {}"), (token_body, "authorization: {}"),
        (token_body, '"Authorization": "Bearer {}"'), (token_body, "'authorization': '{}'"),
        (token_body, "x-api-key: {}"), (token_body, "X-Api-Key: {}"),
        (token_body, '"api_key": "{}"'), (token_body, "api-key={}"),
        (token_body, "OPENAI_API_KEY={}"), (token_body, "access_token: {}"),
        (url_body, "https://api.example.com/v1/chat?api_key={}"),
        (url_body, "http://host:8000/v1?model=m&key={}"),
        (url_body, "/v1/chat/completions?token={}&x=1"),
        (url_body, "https://h/v1?access_token={}"),
        (url_body, "http://user:{}@localhost:8000/v1"),
        (hex_body, "Incorrect API key provided: {}"), (hex_body, "invalid token {}"),
        (hex_body, "secret={}"), (body, "Your api key is: sk-{}"),
    ]
    strategy, template = draw(st.sampled_from(formats))
    secret = draw(strategy)
    return template.format(secret), secret


separators = st.sampled_from([" ", "\n", "\t", "(", ")", '"', "'", ",", ";", "<", ">",
                              "[", "]", "{", "}", ". ", ": "])


@settings(max_examples=400, deadline=None)
@given(key=embedded_key(), before=st.text(), after=st.text(), sep1=separators,
       sep2=separators)
def test_an_embedded_key_never_survives(key: tuple[str, str], before: str, after: str,
                                        sep1: str, sep2: str) -> None:
    shown, secret = key
    assume(secret not in before + sep1 and secret not in sep2 + after)  # hypothesis reuses draws
    text = before + sep1 + shown + sep2 + after
    out = redact_secrets(text)
    assert secret not in out
    assert "***" in out
    assert redact_secrets(out) == out


@settings(max_examples=200, deadline=None)
@given(secret=body, before=st.text(alphabet=ALNUM), after=st.text(alphabet=ALNUM))
def test_prefixed_keys_need_no_word_boundary(secret: str, before: str, after: str) -> None:
    assume(secret not in before and secret not in after)
    for shown in (f"sk-{secret}", f"sk-proj-{secret}"):
        assert secret not in redact_secrets(before + shown + after)


fragments = st.sampled_from([
    "sk-", "Bearer ", "Authorization: ", "api_key=", "?key=", "&token=", "://", "@", "Cookie: ",
    "x-api-key: ", "key: ", "token ", "provided: ", "*", "***", '"', "'", " ", "=", ":", ")",
    "#", "abcdefghijklmnop0123", "eyJabcdefghij.eyJabcdefgh.xyz", "basic ", "password=", "\n"])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.one_of(fragments, st.text(max_size=5)), max_size=12))
def test_redaction_is_idempotent(parts: list[str]) -> None:
    once = redact_secrets("".join(parts))
    assert redact_secrets(once) == once


@pytest.mark.parametrize("text", [
    "RetryableModelError: HTTP 429: rate limited, retry after 2 s",
    "TerminalModelError: HTTP 400: max_tokens=512 is too large for this model",
    "evaluation failed: KeyError: 'reservation_id'",
    "Missing key: reservation_id",
    "the basic economy fare is not refundable",
    "https://api.example.com/v1?api-version=2024-02-01",
    "prompt_tokens=1200 completion_tokens=34",
    "HTTP 401: authentication failed",
])
def test_ordinary_error_texts_are_unchanged(text: str) -> None:
    assert redact_secrets(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("Error code: 401 - {'error': {'message': 'Incorrect API key provided: sk-abcdefghij"
     "0123456789KLMN'}}", "Error code: 401 - {'error': {'message': 'Incorrect API key "
     "provided: sk-***'}}"),
    ("Authorization: Bearer abc.def-123456789", "Authorization: Bearer ***"),
    ("GET http://u:p4ssw0rd@h/v1?api_key=xyz&model=m",
     "GET http://***@h/v1?api_key=***&model=m"),
    ("x-api-key: 0123456789abcdef0123", "x-api-key: ***"),
])
def test_masks_keep_the_surrounding_message(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


@pytest.mark.parametrize("url", [
    "http://user:key@localhost:8000/v1",
    "https://token@api.example.com/v1",
    "https://api.example.com/v1?api_key=abc",
    "https://api.example.com/v1?key=abc",
    "https://api.example.com/v1?x=1&access_token=abc",
    "https://api.example.com/v1?Token=abc",
    "https://api.example.com/sk-abcdefghijklmnop0123456789/v1",
])
def test_url_credentials_are_found_and_never_quoted(url: str) -> None:
    reason = url_credentials(url)
    assert reason is not None
    assert "abc" not in reason and "key@" not in reason.replace("user:key@", "")


@pytest.mark.parametrize("url", [
    "http://localhost:8000/v1", "https://api.openai.com/v1",
    "https://x.openai.azure.com/openai/deployments/d?api-version=2024-02-01",
    "http://[::1]:8000/v1",
])
def test_plain_urls_have_no_credentials(url: str) -> None:
    assert url_credentials(url) is None


def test_secret_fields_by_name_and_by_value() -> None:
    headers = {"Authorization": "Bearer x", "X-Api-Key": "k", "Cookie": "a=b",
               "Ocp-Apim-Subscription-Key": "z", "X-Custom": "Bearer abcdefghijklmnop",
               "X-Title": "toolgym", "HTTP-Referer": "https://example.com"}
    assert secret_fields(headers) == ["Authorization", "X-Api-Key", "Cookie",
                                      "Ocp-Apim-Subscription-Key", "X-Custom"]
