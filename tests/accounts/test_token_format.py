"""The token format: prefix, checksum, digest; malformed tokens need no database."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.authentication import ApiTokenAuthentication
from accounts.tokens import (
    MalformedToken,
    checksum,
    token_digest,
    token_generate,
    token_parse,
)


@pytest.mark.parametrize("kind", ["pat", "sat"])
def test_generated_tokens_parse(kind):
    raw = token_generate(kind)
    assert raw.startswith(f"opaa_{kind}_")
    assert len(raw) == len("opaa_pat_") + 32 + 6
    assert token_parse(raw).kind == kind
    assert kind in repr(token_parse(raw))
    assert raw not in repr(token_parse(raw))


def _flip_last(raw: str) -> str:
    return raw[:-1] + ("A" if raw[-1] != "A" else "B")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "opaa_pat_",
        "opaa_xyz_" + "a" * 38,
        "ghp_" + "a" * 36,
        "opaa_pat_" + "a" * 37,
        "opaa_pat_" + "a" * 31 + "!" + checksum("a" * 32),
    ],
)
def test_malformed_shapes_are_rejected(raw):
    with pytest.raises(MalformedToken):
        token_parse(raw)


def test_a_changed_character_fails_the_checksum():
    raw = token_generate("pat")
    with pytest.raises(MalformedToken):
        token_parse(_flip_last(raw))
    changed = raw[:12] + ("x" if raw[12] != "x" else "y") + raw[13:]
    with pytest.raises(MalformedToken):
        token_parse(changed)


def test_digest_is_keyed_with_the_pepper(settings):
    raw = token_generate("pat")
    settings.TOKEN_PEPPER = "one"
    first = token_digest(raw)
    settings.TOKEN_PEPPER = "two"
    assert token_digest(raw) != first
    assert len(first) == 64
    assert raw not in first


@pytest.mark.django_db
def test_bad_checksum_is_refused_without_a_query(django_assert_num_queries):
    bad = _flip_last(token_generate("pat"))
    request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {bad}"))
    with django_assert_num_queries(0), pytest.raises(AuthenticationFailed):
        ApiTokenAuthentication().authenticate(request)


def test_other_schemes_are_left_to_other_authenticators():
    request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION="Basic YTpi"))
    assert ApiTokenAuthentication().authenticate(request) is None
