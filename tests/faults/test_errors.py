"""Provider errors as DBOS keeps them: a step or workflow that raises is stored pickled,
and `wait_deployment` unpickles it. An error that does not survive the round trip turns
every such failure into a TypeError about `__init__` arguments."""

from __future__ import annotations

import pickle

import pytest

from tools.clients.errors import (
    AuthError,
    BuildFailed,
    Conflict,
    GatedRepo,
    InvalidRequest,
    NotFound,
    ProviderError,
    ProviderPermissionError,
    RateLimited,
    Timeout,
    Unreachable,
    Upstream,
)

ERRORS: list[ProviderError] = [
    cls("RunPod rejected the key (401). Create a new one.", provider="RunPod", status=401,
        request_id="req-1")
    for cls in (ProviderError, AuthError, ProviderPermissionError, GatedRepo, NotFound, Conflict,
                InvalidRequest, BuildFailed)
] + [
    RateLimited("Slow down.", provider="GitHub", status=429, retry_after=3.0),
    Upstream("RunPod had a server error (500).", provider="RunPod", status=500),
    Timeout("No answer.", provider="RunPod", request_sent=False),
    Unreachable("Dropped.", provider="Vercel", request_sent=True),
]  # fmt: skip


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_provider_errors_survive_the_round_trip_dbos_makes(error: ProviderError) -> None:
    loaded = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, as DBOS does
    assert type(loaded) is type(error) and str(loaded) == str(error)
    assert vars(loaded) == vars(error)


def test_a_chained_error_with_notes_survives_the_round_trip() -> None:
    error = Upstream("RunPod had a server error (502).", provider="RunPod", status=502,
                     request_id="req-2", request_sent=False)  # fmt: skip
    error.add_note("while creating the endpoint")
    loaded = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, as DBOS does
    assert isinstance(loaded, Upstream) and loaded.retryable
    assert loaded.args == error.args and loaded.request_sent is False
    assert loaded.__notes__ == ["while creating the endpoint"]
    assert repr(loaded) == repr(error)
