"""Every provider fake, served together on loopback, and the settings that point at them.

Used by the client tests (one stack per test session) and by `kriptik fakes serve`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools.simulator._base import FakeProvider
from tools.simulator.artifact_registry import ArtifactRegistryFake
from tools.simulator.aws import AwsFake
from tools.simulator.aws_state import OPERATOR_ARN, OPERATOR_KEY_ID, OPERATOR_SECRET
from tools.simulator.cloudrun import CloudRunFake
from tools.simulator.comfy_registry import ComfyRegistryFake
from tools.simulator.gcp_oauth import GoogleOAuthFake
from tools.simulator.github import GitHubFake
from tools.simulator.github_oauth import OAUTH_CLIENT_SECRET
from tools.simulator.hf_endpoints import HfEndpointsFake
from tools.simulator.huggingface import HuggingFaceFake
from tools.simulator.netlify import NetlifyFake
from tools.simulator.openrouter import OpenRouterFake
from tools.simulator.runpod import RunPodFake
from tools.simulator.runpod_jobs import RunPodJobsFake
from tools.simulator.server import ServedApp
from tools.simulator.vercel import VercelFake


@dataclass
class FakeStack:
    """All fakes and their servers. `settings_fields()` gives the base-URL settings."""

    openrouter: OpenRouterFake = field(default_factory=OpenRouterFake)
    huggingface: HuggingFaceFake = field(default_factory=HuggingFaceFake)
    runpod: RunPodFake = field(default_factory=RunPodFake)
    github: GitHubFake = field(default_factory=GitHubFake)
    vercel: VercelFake = field(default_factory=VercelFake)
    netlify: NetlifyFake = field(default_factory=NetlifyFake)
    aws: AwsFake = field(default_factory=AwsFake)
    comfy_registry: ComfyRegistryFake = field(default_factory=ComfyRegistryFake)
    runpod_jobs: RunPodJobsFake = field(init=False)
    hf_endpoints: HfEndpointsFake = field(init=False)
    google_oauth: GoogleOAuthFake = field(default_factory=GoogleOAuthFake)
    cloudrun: CloudRunFake = field(init=False)
    artifact_registry: ArtifactRegistryFake = field(init=False)
    servers: dict[str, ServedApp] = field(default_factory=dict[str, ServedApp])

    def __post_init__(self) -> None:
        self.runpod_jobs = RunPodJobsFake(self.runpod.state)
        # Cloud Run and Artifact Registry accept the access tokens Google's token fake issued.
        self.cloudrun = CloudRunFake(self.google_oauth.state)
        self.artifact_registry = ArtifactRegistryFake(self.google_oauth.state)
        # Inference Endpoints accept the Hub's tokens and honour its gated-repo grants.
        self.hf_endpoints = HfEndpointsFake(self.huggingface)

    @property
    def aws_sts(self) -> AwsFake:
        """STS is served by the AWS fake (the name its older tests use)."""
        return self.aws

    def fakes(self) -> dict[str, FakeProvider]:
        return {
            "openrouter": self.openrouter, "huggingface": self.huggingface, "runpod": self.runpod,
            "runpod_jobs": self.runpod_jobs, "github": self.github, "vercel": self.vercel,
            "netlify": self.netlify, "aws": self.aws, "hf_endpoints": self.hf_endpoints,
            "google_oauth": self.google_oauth, "cloudrun": self.cloudrun,
            "artifact_registry": self.artifact_registry, "comfy_registry": self.comfy_registry,
        }  # fmt: skip

    def start(self, *, ports: dict[str, int] | None = None) -> FakeStack:
        """Serve every fake on 127.0.0.1 (random ports unless given)."""
        for name, fake in self.fakes().items():
            self.servers[name] = ServedApp(fake, port=(ports or {}).get(name, 0))
        self.runpod.state.jobs_url = self.url("runpod_jobs") + "/v2"
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    def url(self, name: str) -> str:
        return self.servers[name].url

    def settings_fields(self) -> dict[str, Any]:
        """`Settings` base-URL fields that send every client to these fakes."""
        return {
            "openrouter_base_url": self.url("openrouter") + "/api/v1",
            "huggingface_base_url": self.url("huggingface"),
            "runpod_rest_base_url": self.url("runpod") + "/v2",
            "runpod_jobs_base_url": self.url("runpod_jobs") + "/v2",
            "github_api_base_url": self.url("github"),
            "github_web_base_url": self.url("github"),
            "vercel_base_url": self.url("vercel"),
            "netlify_base_url": self.url("netlify") + "/api/v1",
            **self.aws_settings_fields(),
            "hf_endpoints_base_url": self.url("hf_endpoints"),
            "cloudrun_base_url": self.url("cloudrun"),
            "cloud_resource_manager_base_url": self.url("cloudrun"),  # served by the same fake
            "google_oauth_token_url": self.url("google_oauth") + "/token",
            "artifact_registry_base_url": self.url("artifact_registry"),
            "comfy_registry_base_url": self.url("comfy_registry"),
            # The browser halves of the OAuth flows (vercel.com, app.netlify.com,
            # openrouter.ai) are served by the same fakes as their APIs.
            "vercel_web_base_url": self.url("vercel"),
            "netlify_web_base_url": self.url("netlify"),
            "openrouter_web_base_url": self.url("openrouter"),
        }

    def aws_settings_fields(self) -> dict[str, Any]:
        """Every AWS service URL (one fake serves them all, telling them apart by the
        signature's service), and KripTik's own principal, which assumes users' roles."""
        url = self.url("aws")
        return {
            **{f"aws_{name}_base_url": url for name in (
                "sts", "iam", "sagemaker", "sagemaker_runtime", "ecr", "service_quotas", "pricing",
                "application_autoscaling", "cloudwatch",
            )},
            "aws_operator_access_key_id": OPERATOR_KEY_ID,
            "aws_operator_secret_access_key": OPERATOR_SECRET,
            "aws_principal_arn": OPERATOR_ARN,
        }  # fmt: skip

    def oauth_settings_fields(self) -> dict[str, Any]:
        """`Settings` fields that register the fakes' OAuth apps (GitHub OAuth app and
        GitHub App, Vercel App, Netlify OAuth app), so every Connect button is available.
        Separate from `settings_fields`: the GitHub OAuth app also turns on GitHub sign-in."""
        gh, vc, nf = self.github, self.vercel.oauth_client, self.netlify.oauth_client
        return {
            "github_oauth_client_id": gh.client_id,
            "github_oauth_client_secret": OAUTH_CLIENT_SECRET,
            "github_app_client_id": gh.app.client_id,
            "github_app_client_secret": gh.app.client_secret,
            "github_app_slug": gh.app.slug,
            "vercel_oauth_client_id": vc.client_id,
            "vercel_oauth_client_secret": vc.client_secret,
            "netlify_oauth_client_id": nf.client_id,
            "netlify_oauth_client_secret": nf.client_secret,
        }

    def reset(self) -> None:
        for fake in self.fakes().values():
            fake.reset()
        if self.servers:
            self.runpod.state.jobs_url = self.url("runpod_jobs") + "/v2"

    def assert_clean(self) -> None:
        """Fail with every contract violation any fake saw."""
        problems: list[str] = []
        for fake in self.fakes().values():
            try:
                fake.assert_clean()
            except AssertionError as err:
                problems.append(str(err))
        if problems:
            raise AssertionError("\n\n".join(problems))
