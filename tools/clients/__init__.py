"""Provider clients: one class per provider over an injected `httpx.AsyncClient`, one
error tree (`tools.clients.errors`), and `validate_key` for the free key checks.

```
OpenRouterClient     key, models                         openrouter.ai/api/v1
HuggingFaceClient    whoami, auth_check, model_info,     huggingface.co (via HfApi)
                     safetensors_metadata, read_json/text
SizingHubReader      the same reads, sizing's errors     wraps HuggingFaceClient
RunPodClient         templates, endpoints, workers,      api.runpod.io/v2
                     GPU catalogue, registries
RunPodJobsClient     health, run, run_sync, status,      api.runpod.ai/v2/{endpoint}
                     cancel, wait_ready, wait_job
GitHubClient         user, ensure_repo, push_tree,       api.github.com
                     org_membership
GitHubDeviceFlow     start, poll, wait (device flow)     github.com
GitHubAppAuth        authorize_url, install_url,         github.com (+ api for revoke)
                     exchange, refresh, revoke
revoke_github_token  DELETE /applications/{id}/token     api.github.com
GitHubWebFlow        exchange (OAuth web flow, sign-in)  github.com
VercelOAuth          authorize_url, exchange, refresh,   vercel.com, api.vercel.com
                     revoke (Sign in with Vercel, PKCE)
NetlifyOAuth         authorize_url, exchange             app.netlify.com, api.netlify.com
OpenRouterKeyExchange auth_url, exchange -> key (PKCE)   openrouter.ai
TokenSet, Pkce,      what the OAuth flows share          (oauth_tokens)
new_pkce, OAuthFailed
VercelClient         user, ensure_project, set_env,      api.vercel.com
                     deploy, wait_ready
NetlifyClient        user, ensure_site, deploy,          api.netlify.com/api/v1
                     wait_ready
DockerEngineClient   build, tag, push                    DOCKER_HOST (docker SDK)
GcpAuth              service-account key -> access and   oauth2.googleapis.com/token
                     ID tokens (JWT-bearer, cached)
CloudRunClient       GPU services, operations, project   run.googleapis.com (+ Resource
                     permission check                    Manager, Artifact Registry)
AwsSession           a user's role (assumed) or keys,    sts/iam/api.sagemaker/api.ecr/
                     one region; boto3 in a thread       servicequotas/api.pricing
SageMakerClient      models, endpoint configs, endpoints,  (AWS; boto3 is imported only
                     inference components                  when one of these is used)
SageMakerRuntimeClient invoke
EcrClient            repository, login, images
```

Errors are imported eagerly; the clients load on first use (`huggingface_hub` and the
docker SDK take a second to import, and the CLI should start instantly).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.clients.errors import (
    AuthError,
    BuildFailed,
    Conflict,
    GatedRepo,
    InvalidRequest,
    NotFound,
    OAuthFailed,
    ProviderError,
    ProviderPermissionError,
    RateLimited,
    Timeout,
    Unreachable,
    Upstream,
)
from vault.lazy import lazy_exports

if TYPE_CHECKING:
    from tools.clients._http import Retry
    from tools.clients.aws_session import AwsSession
    from tools.clients.docker_engine import DockerEngineClient, ProgressEvent
    from tools.clients.ecr import EcrClient
    from tools.clients.github import GitHubClient
    from tools.clients.github_oauth import GitHubAppAuth, GitHubDeviceFlow, revoke_github_token
    from tools.clients.github_web import GitHubWebFlow
    from tools.clients.hub_reader import SizingHubReader
    from tools.clients.huggingface import HuggingFaceClient
    from tools.clients.netlify import NetlifyClient
    from tools.clients.netlify_oauth import NetlifyOAuth
    from tools.clients.oauth_tokens import Pkce, TokenSet, new_pkce
    from tools.clients.openrouter import OpenRouterClient
    from tools.clients.openrouter_oauth import OpenRouterKeyExchange
    from tools.clients.runpod import RunPodClient
    from tools.clients.runpod_jobs import RunPodJobsClient
    from tools.clients.sagemaker import SageMakerClient
    from tools.clients.sagemaker_runtime import SageMakerRuntimeClient
    from tools.clients.validate import KeyCheck, validate_key
    from tools.clients.vercel import VercelClient
    from tools.clients.vercel_oauth import VercelOAuth

__all__ = [
    "AuthError",
    "AwsSession",
    "BuildFailed",
    "Conflict",
    "DockerEngineClient",
    "EcrClient",
    "GatedRepo",
    "GitHubAppAuth",
    "GitHubClient",
    "GitHubDeviceFlow",
    "GitHubWebFlow",
    "HuggingFaceClient",
    "InvalidRequest",
    "KeyCheck",
    "NetlifyClient",
    "NetlifyOAuth",
    "NotFound",
    "OAuthFailed",
    "OpenRouterClient",
    "OpenRouterKeyExchange",
    "Pkce",
    "ProgressEvent",
    "ProviderError",
    "ProviderPermissionError",
    "RateLimited",
    "Retry",
    "RunPodClient",
    "RunPodJobsClient",
    "SageMakerClient",
    "SageMakerRuntimeClient",
    "SizingHubReader",
    "Timeout",
    "TokenSet",
    "Unreachable",
    "Upstream",
    "VercelClient",
    "VercelOAuth",
    "new_pkce",
    "revoke_github_token",
    "validate_key",
]

_LAZY = {
    "Retry": "_http",
    "AwsSession": "aws_session",
    "EcrClient": "ecr",
    "SageMakerClient": "sagemaker",
    "SageMakerRuntimeClient": "sagemaker_runtime",
    "DockerEngineClient": "docker_engine",
    "ProgressEvent": "docker_engine",
    "GitHubClient": "github",
    "GitHubDeviceFlow": "github_oauth",
    "GitHubAppAuth": "github_oauth",
    "revoke_github_token": "github_oauth",
    "NetlifyOAuth": "netlify_oauth",
    "OpenRouterKeyExchange": "openrouter_oauth",
    "Pkce": "oauth_tokens",
    "TokenSet": "oauth_tokens",
    "new_pkce": "oauth_tokens",
    "VercelOAuth": "vercel_oauth",
    "GitHubWebFlow": "github_web",
    "HuggingFaceClient": "huggingface",
    "SizingHubReader": "hub_reader",
    "NetlifyClient": "netlify",
    "OpenRouterClient": "openrouter",
    "RunPodClient": "runpod",
    "RunPodJobsClient": "runpod_jobs",
    "KeyCheck": "validate",
    "validate_key": "validate",
    "VercelClient": "vercel",
}


__getattr__ = lazy_exports(__name__, _LAZY)
