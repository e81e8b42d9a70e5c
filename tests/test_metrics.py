"""`tools.metrics`: labels from closed sets only, one registry per `Metrics` (never the
library's global one), and the deployment stages timed by their workflow's clock."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tools.metrics import Metrics
from tools.pipeline.flow_parts import StageClock


def test_a_label_outside_its_set_counts_as_other() -> None:
    metrics = Metrics(models=["anthropic/claude-sonnet-4.5"])
    metrics.tool_call("my secret plan sk-or-v1-abc", "success", toolset={"inspect_model"})
    metrics.llm_request(
        "made-up/model", input_tokens=3, output_tokens=2, cached_tokens=1, cost_usd=None
    )
    metrics.key_validation("not-a-provider", "valid")
    text = metrics.exposition().decode()
    assert 'kriptik_tool_calls_total{outcome="success",tool="other"} 1.0' in text
    assert 'kriptik_llm_requests_total{model="other"} 1.0' in text
    assert 'kriptik_llm_tokens_total{kind="cached",model="other"} 1.0' in text
    assert 'kriptik_key_validations_total{outcome="valid",provider="other"} 1.0' in text
    assert "secret" not in text and "made-up" not in text and "not-a-provider" not in text


def test_each_metrics_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.turn("done")
    assert 'kriptik_turns_total{outcome="done"} 1.0' in first.exposition().decode()
    assert "kriptik_turns_total{" not in second.exposition().decode()
    assert REGISTRY.get_sample_value("kriptik_turns_total", {"outcome": "done"}) is None


def test_the_stage_clock_times_each_stage_until_the_next() -> None:
    now = iter([0.0, 4.0, 10.0, 12.5])
    clock = StageClock(lambda: next(now))
    clock.enter("creating_template")
    clock.enter("creating_endpoint")
    clock.enter("waiting")
    durations = clock.durations()
    assert durations == [
        ("creating_template", 4.0),
        ("creating_endpoint", 6.0),
        ("waiting", 2.5),
    ]
    metrics = Metrics()
    metrics.deployment_finished("failed", durations[:1])
    text = metrics.exposition().decode()
    assert 'kriptik_deployment_stage_seconds_sum{stage="creating_template"} 4.0' in text
    assert 'kriptik_errors_total{kind="deployment_failed"} 1.0' in text
