"""Every value that reaches a Dockerfile, a shell or Python source is checked or escaped:
property tests with quotes, newlines, `$()`, backticks and unicode."""

from __future__ import annotations

import ast
import json
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.artifacts.worker.values import (
    UnsafeValue,
    check_dockerfile_value,
    check_env_key,
    check_env_value,
    check_image_ref,
    check_repo_id,
    check_revision,
    json_text,
    py_literal,
    resource_name,
    shell_word,
    slug,
)

HOSTILE = [
    'a"b',
    "a'b",
    "a\nb",
    "$(id)",
    "`id`",
    "${HOME}",
    "a b",
    "a\\b",
    "é",
    "名前",
    "a;b",
    "a|b",
    "a&&b",
    "\x00",
    "\u2028",
    "a>b",
    "a\tb",
    "\r",
]
# Text biased towards what breaks quoting: the hostile pieces plus any unicode.
nasty = st.one_of(
    st.text(),
    st.lists(st.sampled_from([*HOSTILE, "x", "y", "-", "/", "--help", "../.."]), max_size=8).map(
        "".join
    ),
)
SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@+=,-")


@given(nasty)
def test_dockerfile_values_are_refused_unless_plainly_safe(text: str) -> None:
    try:
        out = check_dockerfile_value(text)
    except UnsafeValue:
        assert not text or set(text) - SAFE or len(text) > 300
    else:
        assert out == text and set(out) <= SAFE


@pytest.mark.parametrize("value", HOSTILE)
def test_each_hostile_piece_is_refused_everywhere_names_go(value: str) -> None:
    for check in (check_dockerfile_value, check_env_key, check_image_ref):
        with pytest.raises(UnsafeValue):
            check(f"x{value}y")
    for check in (check_repo_id, check_revision):
        with pytest.raises(UnsafeValue):
            check(f"org/x{value}y")


@given(nasty)
def test_repo_ids_and_revisions_pass_only_when_safe_for_a_dockerfile(text: str) -> None:
    for check in (check_repo_id, check_revision):
        try:
            check(text)
        except UnsafeValue:
            continue
        assert check_dockerfile_value(text) == text


@given(nasty)
def test_py_literal_evaluates_back_to_the_same_text(text: str) -> None:
    assert ast.literal_eval(py_literal(text)) == text


@given(nasty)
def test_json_text_round_trips_and_is_ascii(text: str) -> None:
    rendered = json_text({"prompt": text})
    assert rendered.isascii()
    assert json.loads(rendered) == {"prompt": text}


@settings(max_examples=40, deadline=None)
@given(nasty.filter(lambda t: "\x00" not in t))
def test_shell_word_is_one_word_for_a_real_shell(text: str) -> None:
    out = subprocess.run(
        ["sh", "-c", f"printf %s {shell_word(text)}"], capture_output=True, check=True
    )
    assert out.stdout.decode("utf-8", "surrogateescape") == text


@given(nasty)
def test_env_values_are_one_printable_line(text: str) -> None:
    try:
        check_env_value(text)
    except UnsafeValue:
        assert not text.isprintable() or len(text) > 4096
    else:
        assert "\n" not in text and "\r" not in text


@given(nasty, st.uuids().map(str))
def test_resource_names_carry_the_deployment_id_and_nothing_unsafe(text: str, dep: str) -> None:
    name = resource_name(dep, text)
    assert name.endswith(dep) and name.startswith("kriptik-")
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-") and len(name) <= 191
    assert set(slug(text)) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


@pytest.mark.parametrize(
    "ref",
    [
        "ghcr.io/me/kriptik-x:abc-123",
        "127.0.0.1:55000/kriptik/w:1",
        "runpod/worker-v1-vllm:v2.25.2",
        "pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime",
    ],
)
def test_real_image_references_pass(ref: str) -> None:
    assert check_image_ref(ref) == ref
