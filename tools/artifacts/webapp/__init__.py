"""Generated web apps around a deployed endpoint (RunPod, a Hugging Face Inference Endpoint
or a private Cloud Run service): an LLM chat page (streaming), an image prompt box and
gallery, a 3D or video job page (`<model-viewer>` / `<video>`), a generic JSON form, or a
ComfyUI workflow's form (one field per exposed input, `AppSpec.fields`).
Each is a static front end plus one serverless function, `api/infer`, that holds the
endpoint's key server-side (`ENV_NAMES`); it runs on Vercel, on Netlify and locally
(`node dev-server.mjs`) unchanged.

    endpoint = EndpointInfo(endpoint_id="abc123", model_id="Qwen/Qwen2.5-0.5B-Instruct",
                            openai_compatible=True)
    app = render_app(AppSpec(kind="llm", project="qwen-chat", title="Qwen chat", endpoint=endpoint))
    app.write_to(Path("qwen-chat"))
"""

from tools.artifacts.webapp.envfile import (
    EnvFileError,
    local_env_text,
    write_local_env,
    write_local_project,
)
from tools.artifacts.webapp.render import (
    ENV_NAMES,
    MODEL_VIEWER,
    GeneratedApp,
    render_app,
    tree_digest,
)
from tools.artifacts.webapp.spec import AppKind, AppSpec, MediaKind, check_project_name

__all__ = [
    "ENV_NAMES",
    "MODEL_VIEWER",
    "AppKind",
    "AppSpec",
    "EnvFileError",
    "GeneratedApp",
    "MediaKind",
    "check_project_name",
    "local_env_text",
    "render_app",
    "tree_digest",
    "write_local_env",
    "write_local_project",
]
