"""What the chat shows, as pure functions: step titles, approval cards, the VRAM chart,
panels and slash commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from inline_snapshot import snapshot

from agent.events import Approval, TurnUsage
from tools.cards import GpuTerms
from tools.model_results import VramSummary
from ui.web.approvals import card_for
from ui.web.charts import vram_props
from ui.web.interaction import saved_text
from ui.web.panels import deployments_props, keys_props
from ui.web.render import clean, step_id, usage_line
from ui.web.reports import audit_row
from ui.web.secret_entry import form_for
from ui.web.titles import tool_icon, tool_title
from vault import REDACTOR, CredentialView
from vault.deployments import DeploymentState, DeploymentView

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_tool_titles_are_short_and_human() -> None:
    assert tool_title("inspect_model", {"repo_id": "tencent/HunyuanWorld-Voyager"}) == (
        "Inspecting tencent/HunyuanWorld-Voyager"
    )
    assert tool_title("inspect_model", {"repo_id": "a/b"}, done=True) == "Inspected a/b"
    assert tool_title("request_api_key", {"provider": "runpod"}) == "Asking for your RunPod key"
    assert tool_title("create_runpod_endpoint", {}) == "Deploying the model on RunPod"
    assert tool_title("create_runpod_endpoint", {"repo_id": "a/b", "target": "cloudrun"}) == (
        "Deploying a/b on Google Cloud Run"
    )
    assert tool_title("compare_targets", {"repo_id": "a/b"}) == "Comparing clouds for a/b"
    assert tool_title("compare_targets", {"repo_id": "a/b"}, done=True) == "Compared clouds for a/b"
    assert tool_icon("compare_targets") == "scale"
    assert tool_title("request_api_key", {"provider": "gcp"}) == "Asking for your Google Cloud key"
    assert tool_title("brand_new_tool", {}) == "Brand new tool"
    assert len(tool_title("inspect_model", {"repo_id": "x" * 200})) == 80
    assert tool_icon("request_api_key") == "key-round" and tool_icon("unknown") == "wrench"


def test_a_step_id_is_the_same_every_time_a_call_is_reported() -> None:
    assert step_id("thread-1", "call_7") == step_id("thread-1", "call_7")
    assert step_id("thread-1", "call_7") != step_id("thread-2", "call_7")


def test_shown_text_masks_known_and_key_shaped_secrets() -> None:
    known = "some-registered-secret-value-123"
    REDACTOR.register(known)
    shown = clean(f"got {known} and hf_{'a' * 34}")
    assert known not in shown and "hf_aaaa" not in shown


def test_usage_line() -> None:
    usage = TurnUsage(
        input_tokens=1000, output_tokens=234, cost_usd=0.0021, today_usd=0.41, daily_cap_usd=5
    )
    assert usage_line(usage) == "1,234 tokens · $0.0021 · today $0.41 of $5.00"
    assert usage_line(TurnUsage(cost_known=False)) == "0 tokens · cost unknown"


def _approval(workers_min: int = 0, workers_max: int = 1) -> Approval:
    return Approval(
        tool_call_id="c1", tool="create_runpod_endpoint", provider="RunPod",
        summary="Create a RunPod endpoint for org/m",
        creates=["RunPod serverless endpoint for org/m", "a RunPod template"],
        price="$1.12/h per worker while it runs", usd_per_hour=1.12,
        args={"repo_id": "org/m", "pool": "ADA_24", "gpu_count": 1},
        gpu=GpuTerms(pool="ADA_24", gpu_count=1, workers_min=workers_min, workers_max=workers_max),
    )  # fmt: skip


def test_an_endpoint_card_shows_pool_workers_and_every_price() -> None:
    rows = {r["name"]: r["value"] for r in card_for(_approval(workers_min=0, workers_max=2)).rows()}
    assert rows == snapshot({
        "Provider": "RunPod",
        "Creates": "RunPod serverless endpoint for org/m; a RunPod template",
        "GPU pool": "24 GB PRO (ADA_24) x 1 GPU",
        "Workers": "0 to 2 (scales to zero when idle)",
        "Running": "$1.12/hour per worker while it runs",
        "Idle": "$0.00/hour: no worker runs while idle",
        "1,000 requests": "$0.62 to $2.18, at ~2 s of GPU each (the higher figure when requests come one at a time)",
    })  # fmt: skip
    always_on = {r["name"]: r["value"] for r in card_for(_approval(workers_min=2)).rows()}
    assert always_on["Idle"] == "$2.24/hour: 2 workers always on"
    # A target's card names what scales in its own word (SageMaker: instances).
    terms = GpuTerms(pool="ml.g5.xlarge", gpu_count=1, workers_min=0, workers_max=2,
                     unit="instance", idle_tail_s=600.0)  # fmt: skip
    target = {
        r["name"]: r["value"]
        for r in card_for(_approval().model_copy(update={"gpu": terms})).rows()
    }
    assert target["Instances"] == "0 to 2 (scales to zero when idle)" and "Workers" not in target
    assert target["Idle"] == "$0.00/hour: no instance runs while idle"


def test_an_endpoint_card_says_the_gpu_was_chosen_on_the_upper_end_of_the_band() -> None:
    sized = GpuTerms(pool="ADA_24", gpu_count=1, workers_min=0, workers_max=1, need_gib=16.9,
                     low_gib=15.4, high_gib=17.4)  # fmt: skip
    rows = [
        (r["name"], r["value"])
        for r in card_for(_approval().model_copy(update={"gpu": sized})).rows()
    ]
    names = [name for name, _ in rows]
    assert names.index("VRAM") == names.index("GPU pool") + 1
    assert (
        dict(rows)["VRAM"]
        == "needs 16.9 GiB (expected 15.4\u201317.4 GiB; GPU chosen for 17.4 GiB)"
    )
    pair = sized.model_copy(update={"gpu_count": 2})
    assert (pair.vram_line() or "").endswith("2 GPUs chosen for 17.4 GiB)")


def test_a_publishing_card_has_no_gpu_rows() -> None:
    approval = Approval(
        tool_call_id="c2", tool="push_to_github", provider="GitHub",
        summary="Push the web app to GitHub as demo",
        creates=["a private GitHub repository demo"], price="free", usd_per_hour=0.0,
        args={"repo_name": "demo"},
    )  # fmt: skip
    names = [r["name"] for r in card_for(approval).rows()]
    assert names == ["Provider", "Creates", "Running"]


SUMMARY = VramSummary(
    dtype="bf16", context_tokens=4096, batch=1, total_gb=17.2, band_low_gb=15.64,
    band_high_gb=17.72, weights_gb=15.2, kv_cache_gb=0.2, activations_gb=0.6, overhead_gb=1.2,
    basis="transformer",
)  # fmt: skip


def test_the_vram_chart_of_an_estimate_alone_is_in_gib_and_prices_no_pool() -> None:
    # No pool is chosen yet, and a packaged price could contradict the live one the card
    # will show: the pools are drawn by size only. (Pick charts: tests/ui/test_one_plan.py.)
    props = vram_props("org/m", SUMMARY)
    pools = props["pools"]
    assert props["unit"] == "GiB" and props["total_gb"] == round(17.2e9 / 2**30, 2)
    assert [p["capacity_gb"] for p in pools] == sorted(p["capacity_gb"] for p in pools)
    assert any(not p["fits"] for p in pools) and any(p["fits"] for p in pools)
    assert not any(p["chosen"] or p["price"] for p in pools)
    assert all(p["fits"] == (p["capacity_gb"] >= props["band"]["high_gb"]) for p in pools)
    assert props["parts"]["weights"] == round(15.2e9 / 2**30, 2)
    assert "4,096-token context" in props["subtitle"]
    assert "GiB" in props["note"] and " GB" not in props["note"]


def _key(**fields: object) -> CredentialView:
    base = {
        "provider": "runpod", "label": "default", "tail": "7Hq2", "created_at": NOW - timedelta(days=3),
        "last_used_at": None, "last_validated_at": NOW - timedelta(minutes=5), "validation_ok": True,
        "validation_message": "ok", "identity": "alice", "scopes": [], "limits": {},
    }  # fmt: skip
    return CredentialView.model_validate(base | fields)


def test_keys_panel_rows_are_masked_and_say_when_they_were_checked() -> None:
    props = keys_props([_key(), _key(provider="github", tail="ab12", validation_ok=False,
                                    validation_message="bad credentials", scopes=["repo"])], now=NOW)  # fmt: skip
    runpod, github = props["keys"]
    assert runpod["masked"] == "••••7Hq2" and runpod["status"] == "Validated 5 min ago"
    assert runpod["detail"] == "as alice · added on 2026-11-24"
    assert github["state"] == "bad" and "bad credentials" in github["detail"]
    assert [m["provider"] for m in props["missing"]] == [
        "openrouter",
        "huggingface",
        "vercel",
        "netlify",
        "gcp",
        "aws",
    ]
    assert saved_text("RunPod", _key()) == "RunPod key saved, ends in 7Hq2, validated as alice"


def test_deployments_panel_shows_idle_cost_and_hides_torn_down() -> None:
    def view(state: DeploymentState, workers_min: int, endpoint: str | None) -> DeploymentView:
        return DeploymentView(
            id=f"d-{state}", user_id="u", thread_id="t", repo_id="org/m", revision="main", kind="vllm",
            state=state, stage=None, message=None, name=f"kt-{state}", image=None, image_digest=None,
            registry_auth_id=None, template_id="tpl", endpoint_id=endpoint, gpu_pools=["ADA_24"], gpu_count=1,
            workers_min=workers_min, workers_max=2, idle_timeout_s=5, usd_per_second=0.0003,
            cost_usd=0.5, urls={}, plan={}, created_at=NOW, updated_at=NOW, ready_at=None, ended_at=None,
        )  # fmt: skip

    props = deployments_props(
        [view("ready", 1, "ep-1"), view("torn_down", 0, "ep-2"), view("waiting", 0, None)]
    )
    assert [row["id"] for row in props["deployments"]] == ["d-ready", "d-waiting"]
    ready = props["deployments"][0]
    assert ready["idle"] == "$1.08/h" and ready["running"] == "$1.08/h per worker"
    assert props["idle_total"] == "$1.08/h idle"


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("to create the endpoint", "Needed to create the endpoint."),
        ("Private model.", "Private model."),
        ("", ""),
    ],
)
def test_the_key_form_says_why_and_holds_nothing_secret(reason: str, why: str) -> None:
    props = form_for("runpod", reason=reason).props()
    assert props["why"] == why
    assert set(props) == {
        "provider", "provider_title", "title", "why", "instructions", "signup_url", "keys_url",
        "scopes", "attempt", "error", "field_label", "connect", "aws_role",
    }  # fmt: skip
    assert props["connect"] is None  # RunPod has no Connect
    assert props["aws_role"] is None  # the role setup is the AWS card's alone


def test_the_google_cloud_key_form_links_the_console_and_lists_the_roles() -> None:
    props = form_for("gcp", reason="to deploy on Google Cloud Run").props()
    assert props["provider_title"] == "Google Cloud"
    assert props["signup_url"] == "https://console.cloud.google.com/freetrial"
    assert props["keys_url"] == "https://console.cloud.google.com/iam-admin/serviceaccounts"
    assert props["scopes"] == [
        "roles/run.admin", "roles/iam.serviceAccountUser", "roles/artifactregistry.writer",
    ]  # fmt: skip
    assert "Keys > Add key" in props["instructions"] and "whole" in props["instructions"]


def test_the_hugging_face_form_says_which_token_deploys_where() -> None:
    text = form_for("huggingface", reason="").props()["instructions"]
    assert "Read token" in text and "Write token" in text and "Inference Endpoints" in text


def test_audit_rows_are_short_and_readable() -> None:
    from vault.audit import AuditRecord

    base = {
        "id": "r1", "seq": 3, "thread_id": "t", "user_id": "u", "run_id": None, "tool_call_id": "c1",
        "approved_by": None, "started_at": NOW, "finished_at": NOW, "duration_ms": 1250,
        "model": None, "input_tokens": None, "output_tokens": None, "cost_microusd": None,
        "prev_hash": None, "hash": None,
    }  # fmt: skip
    tool = AuditRecord.model_validate(base | {
        "kind": "tool", "tool": "estimate_vram", "args": '{"repo_id": "org/m"}', "outcome": "success",
        "summary": '{"dtype": "bf16", "total_gb": 17.2, "notes": []}',
    })  # fmt: skip
    assert audit_row(tool) | {"id": "r1"} == {
        "id": "r1", "time": "12:00:00", "what": "Estimated VRAM for org/m", "outcome": "success",
        "tone": "ok", "details": "dtype bf16 · total gb 17.2 · 1.2 s",
    }  # fmt: skip
    model = AuditRecord.model_validate(base | {
        "kind": "model", "tool": None, "args": None, "outcome": "success", "summary": None,
        "model": "m", "input_tokens": 1200, "output_tokens": 30, "cost_microusd": 2100,
    })  # fmt: skip
    assert audit_row(model)["details"] == "1,200 in / 30 out · $0.0021 · 1.2 s"


@pytest.mark.parametrize(
    ("command", "content", "parsed"),
    [("keys", "", "keys"), (None, "/audit", "audit"), (None, " /Usage ", "usage"),
     (None, "/keys please", None), (None, "/unknown", None), ("other", "", None)],
)  # fmt: skip
def test_slash_commands_are_recognised(
    command: str | None, content: str, parsed: str | None
) -> None:
    from types import SimpleNamespace

    from ui.web.commands import parse

    assert parse(SimpleNamespace(command=command, content=content)) == parsed  # pyright: ignore[reportArgumentType]
