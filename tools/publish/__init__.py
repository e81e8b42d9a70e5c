"""Publishing a generated app: the pre-push secret scan, GitHub (one private repo, one
commit), Vercel and Netlify deploys (files by digest, env vars through their APIs, polled
to ready), the deployed app's integration check, and the closing summary.

The step functions take every dependency as an argument and are idempotent, so the
deployment workflow can run each as a durable step:

    repo = await publish_to_github(spec, github=GitHubPublisher(...), secrets=vault_values,
                                   recorder=recorder)
    web = await deploy_to_vercel(spec, vercel=VercelPublisher(...), runpod_key=key,
                                 recorder=recorder, check=lambda url: check_app(http, url, spec))
"""

from tools.publish.check import check_app, smoke_input
from tools.publish.github import GitHubPublisher, PublishError, publish_to_github
from tools.publish.models import (
    AppCheck,
    CheckStep,
    DeploymentRecorder,
    NullRecorder,
    RepoResult,
    ResourceKind,
    WebDeployResult,
    WebHost,
)
from tools.publish.netlify import NetlifyPublisher, deploy_to_netlify
from tools.publish.scan import Finding, SecretFound, ensure_clean, scan_files
from tools.publish.vercel import AppChecker, VercelPublisher, deploy_to_vercel

__all__ = [
    "AppCheck",
    "AppChecker",
    "CheckStep",
    "DeploymentRecorder",
    "Finding",
    "GitHubPublisher",
    "NetlifyPublisher",
    "NullRecorder",
    "PublishError",
    "RepoResult",
    "ResourceKind",
    "SecretFound",
    "VercelPublisher",
    "WebDeployResult",
    "WebHost",
    "check_app",
    "deploy_to_netlify",
    "deploy_to_vercel",
    "ensure_clean",
    "publish_to_github",
    "scan_files",
    "smoke_input",
]
