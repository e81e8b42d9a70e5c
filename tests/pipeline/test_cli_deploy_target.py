"""`kriptik deploy REPO --target huggingface|cloudrun [--region R]`: the plan printed with
the target's price, and bad input refused before any spend. These hand `show_plan`
services with the targets; `test_cli_deploy_target_e2e` runs the command itself."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.pipeline.conftest import PipelineEnv
from tests.pipeline.target_services import add_gcp_key, build_targets
from tools.pipeline.plan import DeployRequest
from tools.pipeline.services import PipelineServices
from tools.simulator.all import FakeStack
from tools.targets.cloudrun import L4_USD_PER_HOUR
from ui.cli import build_parser
from ui.cli.deploy import show_plan

TINY = "kriptik-test/tiny-llama"


@pytest.fixture
def on_targets(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices],
    monkeypatch: pytest.MonkeyPatch,
) -> PipelineServices:  # fmt: skip
    settings = pipeline.settings.model_copy(update={"endpoint_ttl_s": 8 * 3600})
    return services(targets=build_targets(pipeline, monkeypatch), settings=settings)


def test_the_parser_takes_a_target_and_a_region() -> None:
    args = build_parser().parse_args(
        ["deploy", TINY, "--target", "cloudrun", "--region", "us-east4"]
    )
    assert (args.target, args.region, args.gpu) == ("cloudrun", "us-east4", "auto")
    assert build_parser().parse_args(["deploy", TINY]).target == "runpod"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["deploy", TINY, "--target", "aws"])


async def test_the_plan_is_printed_with_the_target_s_price(
    pipeline: PipelineEnv, on_targets: PipelineServices, fakes: FakeStack,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    user = await pipeline.new_user()
    await add_gcp_key(pipeline, fakes, user)
    hf = await show_plan(on_targets, user, DeployRequest(repo_id=TINY, target="huggingface"))
    assert not isinstance(hf, int) and hf.target == "huggingface"
    out = capsys.readouterr().out
    assert out.startswith(f"Plan: {TINY} on Hugging Face Inference Endpoints: NVIDIA T4 16 GB x1")
    assert "A running replica costs $0.50/h (price: Hugging Face Inference Endpoints API" in out
    assert "This plan can cost at most $4.00 (1 replica x $0.50/h x 8 h)" in out
    request = DeployRequest(repo_id=TINY, target="cloudrun", region="us-east4")
    cloudrun = await show_plan(on_targets, user, request)
    assert not isinstance(cloudrun, int) and cloudrun.pool == "nvidia-l4"
    out = capsys.readouterr().out
    assert "on Google Cloud Run: NVIDIA L4 24 GB (Google Cloud Run, us-east4)" in out
    assert f"A running replica costs ${L4_USD_PER_HOUR:.2f}/h" in out
    assert fakes.hf_endpoints.live() == [] and fakes.cloudrun.services == {}


async def test_bad_input_is_refused_before_any_spend(
    pipeline: PipelineEnv, on_targets: PipelineServices, capsys: pytest.CaptureFixture[str]
) -> None:
    user = await pipeline.new_user()
    bad_region = DeployRequest(repo_id=TINY, target="huggingface", region="mars-1")
    assert await show_plan(on_targets, user, bad_region) == 2
    assert "error: Hugging Face Inference Endpoints has no GPU offers in 'mars-1'" in (
        capsys.readouterr().err
    )
    no_key = DeployRequest(repo_id=TINY, target="cloudrun")
    assert await show_plan(on_targets, user, no_key) == 2
    assert "`kriptik keys add gcp < key.json`" in capsys.readouterr().err


def test_a_registry_is_refused_for_sagemaker_which_pulls_only_from_ecr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        ["deploy", TINY, "--target", "sagemaker", "--registry", "ghcr.io/someone"]
    )
    assert args.handler(args) == 2  # before anything is opened, planned or created
    err = capsys.readouterr().err
    assert "--registry does not apply to SageMaker" in err and "ECR repository" in err
