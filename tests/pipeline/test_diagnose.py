"""Worker states and worker logs, read as users need them (pure functions)."""

from __future__ import annotations

import pytest

from tools.clients.registry import split_ref
from tools.clients.runpod import sse_log_line
from tools.clients.runpod_models import Workers
from tools.pipeline.diagnose import PoolOption, classify_workers, diagnose_logs, throttled_failure

OPTIONS = (
    PoolOption(
        pool_id="AMPERE_24", label="L4 / A5000 / 3090", memory_gb=24, usd_per_second=0.00019
    ),
    PoolOption(pool_id="ADA_24", label="4090", memory_gb=24, usd_per_second=0.00031),
    PoolOption(pool_id="AMPERE_48", label="A6000 / A40", memory_gb=48, usd_per_second=0.00034),
    PoolOption(pool_id="AMPERE_80", label="A100", memory_gb=80, usd_per_second=0.00076),
)


def _workers(*statuses: tuple[str, bool]) -> Workers:
    summary = dict.fromkeys(("running", "idle", "initializing", "throttled", "unhealthy"), 0)
    for status, _ in statuses:
        summary[status.lower()] += 1
    return Workers.model_validate(
        {
            "workers": [
                {"id": f"w{i}", "status": s, "gpuTypeId": "NVIDIA L4" if placed else None}
                for i, (s, placed) in enumerate(statuses)
            ],
            "summary": {**summary, "total": len(statuses)},
        }
    )


@pytest.mark.parametrize(
    ("statuses", "stage"),
    [
        ([], "initializing"),
        ([("INITIALIZING", False)], "initializing"),
        ([("INITIALIZING", True)], "pulling"),
        ([("THROTTLED", False)], "throttled"),
        ([("THROTTLED", False), ("INITIALIZING", True)], "pulling"),
        ([("UNHEALTHY", True), ("INITIALIZING", True)], "unhealthy"),
        ([("UNHEALTHY", True), ("IDLE", True)], "ready"),
        ([("RUNNING", True)], "ready"),
    ],
)
def test_the_most_advanced_worker_sets_the_stage(
    statuses: list[tuple[str, bool]], stage: str
) -> None:
    assert classify_workers(_workers(*statuses)) == stage


def _diagnose(lines: list[str], *, max_model_len: int | None = None) -> object:
    return diagnose_logs(
        lines,
        repo_id="org/model",
        pool="AMPERE_24",
        options=OPTIONS,
        max_model_len=max_model_len,
        image="ghcr.io/me/w:1",
    )


def test_oom_offers_the_cheapest_bigger_pool_and_a_context_that_fits() -> None:
    failure = _diagnose(["torch.OutOfMemoryError: CUDA out of memory."], max_model_len=8192)
    assert failure is not None and failure.reason == "oom"  # type: ignore[union-attr]
    tips = failure.suggestions  # type: ignore[union-attr]
    assert tips[0].startswith("Deploy on AMPERE_48 (A6000 / A40, 48 GB) at $0.00034/s")
    assert tips[1] == "Or keep AMPERE_24 and set MAX_MODEL_LEN to 4096 tokens or fewer."
    vllm = _diagnose(
        [
            "max seq len (32768) is larger than the maximum number of tokens that "
            "can be stored in KV cache (13872). Try increasing"
        ]
    )
    assert "MAX_MODEL_LEN to 13312 tokens or fewer" in vllm.suggestions[1]  # type: ignore[union-attr]


def test_unknown_logs_are_not_guessed_at() -> None:
    assert _diagnose(["Starting worker", "Loading weights 40%"]) is None


def test_throttled_suggests_other_pools_by_price() -> None:
    failure = throttled_failure("ADA_24", OPTIONS, 660)
    assert "for 11 minute(s)" in failure.message
    assert [t.split(" ")[2] for t in failure.suggestions[:3]] == [
        "AMPERE_24",
        "AMPERE_48",
        "AMPERE_80",
    ]


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        ('data: {"ts":"t","source":"container","line":"CUDA out of memory"}', "CUDA out of memory"),
        ("id: 2026-01-01T00:00:00Z/1", None),
        ("data: plain text", "plain text"),
        ("", None),
    ],
)
def test_log_events_are_read_from_server_sent_events(raw: str, line: str | None) -> None:
    assert sse_log_line(raw) == line


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("127.0.0.1:55000/kriptik/w:abc", ("127.0.0.1:55000/kriptik/w", "abc")),
        ("127.0.0.1:55000/kriptik/w", ("127.0.0.1:55000/kriptik/w", "latest")),
        ("ghcr.io/me/w:1.0", ("ghcr.io/me/w", "1.0")),
    ],
)
def test_image_references_split_at_the_tag_not_the_port(ref: str, parts: tuple[str, str]) -> None:
    assert split_ref(ref) == parts
