"""The process's Prometheus metrics: one `Metrics` per composition root, owning one
`CollectorRegistry` (never prometheus-client's global one), handed down to every module
that counts something.

```
kriptik_turns_total{outcome}                      chat turns, by how they ended
kriptik_tool_calls_total{tool,outcome}            tool calls, by tool and outcome
kriptik_llm_requests_total{model}                 model requests
kriptik_llm_tokens_total{model,kind}              input, output and cached tokens
kriptik_llm_cost_usd_total{model}                 what the priced requests cost
kriptik_approvals_total{decision}                 approval cards given or refused
kriptik_deployments_finished_total{outcome}       deployments run to ready, failed, cancelled
kriptik_deployment_stage_seconds{stage}           how long each deployment stage took
kriptik_deployments{state}                        deployments now in each state (at scrape)
kriptik_live_endpoints                            ready endpoints (at scrape)
kriptik_live_endpoints_usd_per_hour               their price, one running worker each
kriptik_key_validations_total{provider,outcome}   provider key checks
kriptik_errors_total{kind}                        errors, by kind
```

Every label comes from a closed set (tool names, states, stages, providers, outcomes, the
configured model ids); a value outside its set is counted as "other". No label holds a
user's id, text or secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.deployments import DEPLOYMENT_STATES, DeploymentRecord
from vault.providers import PROVIDERS

__all__ = ["ErrorKind", "KeyCheck", "Metrics"]

ErrorKind = Literal[
    "turn_usage_limit", "turn_cost_cap", "turn_refused", "turn_model", "turn_internal",
    "tool_auth", "tool_provider", "tool_missing_key", "tool_internal", "deployment_failed",
]  # fmt: skip
KeyCheck = Literal["valid", "rejected", "unreachable"]
_OTHER: Final = "other"
# Stage durations run from seconds (a template) to many minutes (an image build, a pull).
_STAGE_BUCKETS: Final = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf"))
_TOKEN_KINDS: Final = ("input", "output", "cached")


def _closed(value: str, allowed: Iterable[str]) -> str:
    """`value` when it belongs to its closed set, else "other": a label never carries
    anything a user or a provider made up."""
    return value if value in allowed else _OTHER


class Metrics:
    """The counters of one process, in their own registry.

    Args:
        models: The configured chat model ids (`settings.model`, `fallback_models`): the
            only model labels; any other model name counts as "other".
    """

    def __init__(self, *, models: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry()
        self._models = frozenset(models)
        self._define_agent()
        self._define_deployments()
        r = self.registry
        self.key_validations = Counter(
            "kriptik_key_validations", "Provider key checks.", ["provider", "outcome"], registry=r
        )
        self.errors = Counter("kriptik_errors", "Errors, by kind.", ["kind"], registry=r)

    def _define_agent(self) -> None:
        r = self.registry
        self.turns = Counter("kriptik_turns", "Chat turns, by outcome.", ["outcome"], registry=r)
        self.tool_calls = Counter(
            "kriptik_tool_calls", "Tool calls, by tool and outcome.", ["tool", "outcome"],
            registry=r,
        )  # fmt: skip
        self.llm_requests = Counter(
            "kriptik_llm_requests", "Model requests.", ["model"], registry=r
        )
        self.llm_tokens = Counter(
            "kriptik_llm_tokens", "Model tokens (input, output, cached).", ["model", "kind"],
            registry=r,
        )  # fmt: skip
        self.llm_cost = Counter(
            "kriptik_llm_cost_usd", "What priced model requests cost.", ["model"], registry=r
        )
        self.approvals = Counter(
            "kriptik_approvals", "Approval cards, given or refused.", ["decision"], registry=r
        )
        for decision in ("given", "refused"):  # both shown from the start, at 0
            self.approvals.labels(decision=decision)

    def _define_deployments(self) -> None:
        r = self.registry
        self.deployments_finished = Counter(
            "kriptik_deployments_finished", "Deployments this instance ran to an end.",
            ["outcome"], registry=r,
        )  # fmt: skip
        for outcome in ("ready", "failed", "cancelled"):  # each shown from the start, at 0
            self.deployments_finished.labels(outcome=outcome)
        self.stage_seconds = Histogram(
            "kriptik_deployment_stage_seconds", "How long each deployment stage took.",
            ["stage"], buckets=_STAGE_BUCKETS, registry=r,
        )  # fmt: skip
        self.deployments = Gauge(
            "kriptik_deployments", "Deployments in each state.", ["state"], registry=r
        )
        self.live_endpoints = Gauge("kriptik_live_endpoints", "Ready endpoints.", registry=r)
        self.live_usd_per_hour = Gauge(
            "kriptik_live_endpoints_usd_per_hour",
            "The ready endpoints' price per hour, one running worker each.", registry=r,
        )  # fmt: skip

    # ---- events, each counted where it happens -----------------------------------------
    def turn(self, outcome: str) -> None:
        self.turns.labels(outcome=outcome).inc()

    def tool_call(self, tool: str, outcome: str, *, toolset: Iterable[str]) -> None:
        """`toolset`: the agent's tool names, the only tool labels (a name the model made
        up counts as "other")."""
        self.tool_calls.labels(tool=_closed(tool, toolset), outcome=outcome).inc()

    def llm_request(
        self, model: str, *, input_tokens: int, output_tokens: int, cached_tokens: int,
        cost_usd: float | None,
    ) -> None:  # fmt: skip
        label = _closed(model, self._models)
        self.llm_requests.labels(model=label).inc()
        counts = (input_tokens, output_tokens, cached_tokens)
        for kind, count in zip(_TOKEN_KINDS, counts, strict=True):
            self.llm_tokens.labels(model=label, kind=kind).inc(count)
        if cost_usd is not None:
            self.llm_cost.labels(model=label).inc(cost_usd)

    def approval(self, *, given: bool) -> None:
        self.approvals.labels(decision="given" if given else "refused").inc()

    def deployment_finished(self, outcome: str, stages: Iterable[tuple[str, float]]) -> None:
        self.deployments_finished.labels(outcome=outcome).inc()
        for stage, seconds in stages:
            self.stage_seconds.labels(stage=stage).observe(seconds)
        if outcome == "failed":
            self.error("deployment_failed")

    def key_validation(self, provider: str, outcome: KeyCheck) -> None:
        self.key_validations.labels(provider=_closed(provider, PROVIDERS), outcome=outcome).inc()

    def error(self, kind: ErrorKind) -> None:
        self.errors.labels(kind=kind).inc()

    # ---- the scrape --------------------------------------------------------------------
    async def refresh(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Set the gauges from the deployment records, which every instance shares."""
        by_state = select(DeploymentRecord.state, func.count()).group_by(DeploymentRecord.state)
        ready = select(func.count(), func.coalesce(func.sum(DeploymentRecord.usd_per_second), 0))
        async with sessions() as session:
            counts: dict[str, int] = {row[0]: row[1] for row in await session.execute(by_state)}
            live, usd_per_s = (
                await session.execute(ready.where(DeploymentRecord.state == "ready"))
            ).one()
        for state in DEPLOYMENT_STATES:
            self.deployments.labels(state=state).set(counts.get(state, 0))
        self.live_endpoints.set(int(live))
        self.live_usd_per_hour.set(float(usd_per_s) * 3600)

    def exposition(self) -> bytes:
        """The registry in Prometheus's text format."""
        return generate_latest(self.registry)
