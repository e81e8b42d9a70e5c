"""The deployment pipeline's tools, typed but not built yet.

Each has its final signature and schema; calling one fails with a clear "not built yet"
message that says nothing was created or charged. (The toolset no longer registers these:
the real tools and their approval cards live in `tools.app_tools` and
`tools.pipeline_tools`.)
"""

from __future__ import annotations

from pydantic_ai import RunContext, ToolFailed

from tools.deps import Deps

__all__ = [
    "NotBuiltYet",
    "build_dockerfile",
    "create_runpod_endpoint",
    "deploy_netlify",
    "deploy_vercel",
    "get_deployment_status",
    "push_to_github",
    "teardown",
]


class NotBuiltYet(ToolFailed):
    def __init__(self, tool: str) -> None:
        super().__init__(
            f"{tool} is not built yet in this version of KripTik: nothing was created and "
            "nothing was charged. Tell the user this step is coming, and what it would do."
        )


async def build_dockerfile(ctx: RunContext[Deps], repo_id: str, dtype: str = "bf16") -> str:
    """Write the Dockerfile and worker code that serve a model on RunPod (read-only).

    Args:
        repo_id: The Hugging Face repo, as owner/name.
        dtype: Weight precision to serve in.
    """
    raise NotBuiltYet("build_dockerfile")


async def create_runpod_endpoint(
    ctx: RunContext[Deps],
    repo_id: str,
    pool: str,
    gpu_count: int = 1,
    workers_min: int = 0,
    workers_max: int = 1,
) -> str:
    """Create a RunPod serverless endpoint for a model. Costs money: needs approval.

    Args:
        repo_id: The Hugging Face repo, as owner/name.
        pool: The GPU pool id that choose_gpu chose (e.g. AMPERE_24).
        gpu_count: GPUs per worker.
        workers_min: Always-on workers (billed around the clock).
        workers_max: Most workers at once.
    """
    raise NotBuiltYet("create_runpod_endpoint")


async def get_deployment_status(ctx: RunContext[Deps], endpoint_id: str) -> str:
    """Report a RunPod endpoint's workers and readiness (read-only).

    Args:
        endpoint_id: The endpoint id that create_runpod_endpoint returned.
    """
    raise NotBuiltYet("get_deployment_status")


async def push_to_github(ctx: RunContext[Deps], repo_name: str, private: bool = True) -> str:
    """Push the generated web app to a new GitHub repository. Publishes: needs approval.

    Args:
        repo_name: Name of the repository to create under the user's account.
        private: Create it private (recommended).
    """
    raise NotBuiltYet("push_to_github")


async def deploy_vercel(ctx: RunContext[Deps], project_name: str, github_repo: str) -> str:
    """Deploy the web app from its GitHub repository to Vercel. Publishes: needs approval.

    Args:
        project_name: The Vercel project name.
        github_repo: The repository push_to_github created, as owner/name.
    """
    raise NotBuiltYet("deploy_vercel")


async def deploy_netlify(ctx: RunContext[Deps], site_name: str, github_repo: str) -> str:
    """Deploy the web app from its GitHub repository to Netlify. Publishes: needs approval.

    Args:
        site_name: The Netlify site name.
        github_repo: The repository push_to_github created, as owner/name.
    """
    raise NotBuiltYet("deploy_netlify")


async def teardown(ctx: RunContext[Deps], endpoint_id: str) -> str:
    """Delete a RunPod endpoint and its template, which stops its billing. Needs approval.

    Args:
        endpoint_id: The endpoint to delete.
    """
    raise NotBuiltYet("teardown")
