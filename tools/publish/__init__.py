"""Publishing a generated app: the pre-push secret scan, GitHub (one private repo, one
commit), Vercel and Netlify deploys (files by digest, env vars through their APIs, polled
to ready), the deployed app's integration check, and the closing summary.

The step functions take every dependency as an argument and are idempotent, so a durable
workflow could run each as a step (`LivePublishing` serves the agent's tools):

    repo = await publish_to_github(spec, github=GitHubClient(...), secrets=vault_values,
                                   recorder=recorder)
    web = await deploy_to_vercel(spec, vercel=VercelClient(...), runpod_key=key,
                                 recorder=recorder, check=lambda url: check_app(http, url, spec))
"""

from tools.publish.check import check_app, smoke_input
from tools.publish.from_deployment import AppUnavailable, default_project, spec_from_deployment
from tools.publish.github import PublishError, publish_to_github
from tools.publish.models import (
    AppCheck,
    AppPublishing,
    AppSummary,
    CheckStep,
    DeploymentRecorder,
    NullRecorder,
    RepoResult,
    ResourceKind,
    WebDeployResult,
    WebHost,
)
from tools.publish.netlify import deploy_to_netlify
from tools.publish.scan import Finding, SecretFound, ensure_clean, scan_files, scrub
from tools.publish.service import LivePublishing
from tools.publish.summary import summarize
from tools.publish.vercel import deploy_to_vercel
from tools.publish.webhost import AppChecker

__all__ = [
    "AppCheck",
    "AppChecker",
    "AppPublishing",
    "AppSummary",
    "AppUnavailable",
    "CheckStep",
    "DeploymentRecorder",
    "Finding",
    "LivePublishing",
    "NullRecorder",
    "PublishError",
    "RepoResult",
    "ResourceKind",
    "SecretFound",
    "WebDeployResult",
    "WebHost",
    "check_app",
    "default_project",
    "deploy_to_netlify",
    "deploy_to_vercel",
    "ensure_clean",
    "publish_to_github",
    "scan_files",
    "scrub",
    "smoke_input",
    "spec_from_deployment",
    "summarize",
]
