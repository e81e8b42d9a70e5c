"""The user's local `.env` for a generated project: written only when asked, mode 0600.

The generated project always carries `.env.example` (names, no values) and a
`.gitignore` that lists `.env`. Writing real values is a separate, explicit step: the
caller passes `confirm=True` after the user asked for it, and the file is created with
mode 0600 from the start (never world-readable, not even for an instant).

`write_local_project` is the copy KripTik keeps on the user's machine when it pushes the
app: the project's files, and a `.env` filled from `.env.example` with everything but the
key (RunPod: the endpoint id and the job API root; Hugging Face: HF_ENDPOINT_URL; Cloud
Run: CLOUD_RUN_URL; SageMaker: SAGEMAKER_ENDPOINT_URL and SAGEMAKER_REGION); the key
(`RUNPOD_API_KEY=`, `HF_TOKEN=`, `GCP_SERVICE_ACCOUNT_JSON=`, the SAGEMAKER_* access key)
stays empty for the user to fill, and a `.env` already there (perhaps holding that key) is
never replaced.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from tools.artifacts.webapp.render import ENV_NAMES, GeneratedApp

__all__ = ["EnvFileError", "local_env_text", "write_local_env", "write_local_project"]

_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
# What dev-server.mjs (and dotenv) read back unchanged without quoting.
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+=,-]*")


class EnvFileError(ValueError):
    """The `.env` file was not written; the message says why and what to do."""


def _line(name: str, value: SecretStr) -> str:
    if not _NAME.fullmatch(name):
        raise EnvFileError(f"{name!r} is not an environment variable name (A-Z, 0-9, _)")
    raw = value.get_secret_value()
    if not _PLAIN.fullmatch(raw):
        # Never echo the value: it is a secret.
        raise EnvFileError(f"the value of {name} has characters a .env file cannot hold plainly")
    return f"{name}={raw}\n"


def _create_private(path: Path, text: str, *, overwrite: bool) -> None:
    """Write `text` to `path`, created mode 0600 (FileExistsError unless `overwrite`)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as handle:
        # os.open's mode applies only on creation: tighten a replaced file too.
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def _check_ignored(project_dir: Path) -> None:
    ignore = project_dir / ".gitignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    if ".env" not in (line.strip() for line in lines):
        raise EnvFileError(f"{ignore} does not list .env, so the key could be committed")


def write_local_env(
    project_dir: Path,
    values: Mapping[str, SecretStr],
    *,
    confirm: bool,
    overwrite: bool = False,
) -> Path:
    """Write `project_dir/.env` with `values`, mode 0600.

    Args:
        project_dir: A generated project (it must have a `.gitignore` listing `.env`).
        values: Variable name -> value (e.g. RUNPOD_API_KEY, RUNPOD_ENDPOINT_ID).
        confirm: Must be True: the user explicitly asked for a local `.env` with values.
        overwrite: Replace an existing `.env` (otherwise that is an error).

    Returns:
        The path written.

    Raises:
        EnvFileError: Not confirmed, `.env` not git-ignored, a bad name or value, or the
            file exists and `overwrite` is False.
    """
    if not confirm:
        raise EnvFileError("a .env with secret values is written only when the user asks for it")
    _check_ignored(project_dir)
    text = "".join(_line(name, value) for name, value in values.items())
    path = project_dir / ".env"
    try:
        _create_private(path, text, overwrite=overwrite)
    except FileExistsError:
        raise EnvFileError(f"{path} exists; pass overwrite=True to replace it") from None
    return path


def _public_values(app: GeneratedApp, jobs_base_url: str) -> dict[str, SecretStr]:
    """What `.env` may hold besides the key: where the function calls the endpoint."""
    endpoint = app.spec.endpoint
    where = ENV_NAMES[endpoint.target][1]
    if endpoint.region is not None:  # SageMaker: SigV4 signs with the endpoint's region
        return {where: SecretStr(endpoint.jobs_url), "SAGEMAKER_REGION": SecretStr(endpoint.region)}
    if endpoint.target != "runpod":
        return {where: SecretStr(endpoint.jobs_url)}
    return {
        where: SecretStr(endpoint.endpoint_id),
        "RUNPOD_API_BASE": SecretStr(jobs_base_url.rstrip("/")),
    }


def local_env_text(app: GeneratedApp, *, jobs_base_url: str) -> str:
    """`.env.example` with where to call filled in (for RunPod, the endpoint id and the job
    API root `jobs_base_url`; elsewhere the endpoint's URL); the key left empty."""
    values = _public_values(app, jobs_base_url)
    lines: list[str] = []
    for line in app.files[".env.example"].decode().splitlines(keepends=True):
        name = line.partition("=")[0]
        lines.append(
            _line(name, values[name]) if name in values and line.strip() == f"{name}=" else line
        )
    return "".join(lines)


def write_local_project(app: GeneratedApp, root: Path, *, jobs_base_url: str) -> Path:
    """Write the project under `root` and, unless one is there, its filled `.env` (0600).

    Returns:
        The `.env` path (kept as it was when it already existed).
    """
    app.write_to(root)
    _check_ignored(root)
    path = root / ".env"
    try:
        _create_private(path, local_env_text(app, jobs_base_url=jobs_base_url), overwrite=False)
    except FileExistsError:
        pass  # The user's own .env, perhaps with their key: never replaced.
    return path
