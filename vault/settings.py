"""The one settings object. No other module reads the process environment.

Every field reads `KRIPTIK_<NAME>` (case-insensitive). Secrets are `SecretStr`, so a
settings object can be logged or repr'd without leaking them. Provider base URLs default
to the real public endpoints; tests point them at loopback fakes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".kriptik"


class Settings(BaseSettings):
    """KripTik configuration, read from `KRIPTIK_*` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="KRIPTIK_",
        case_sensitive=False,
        # No .env loading here: Chainlit already loads .env from the CWD on import, and a
        # second, silent source of configuration is how secrets end up in the wrong place.
        extra="ignore",
        frozen=True,
    )

    home: Path = Field(default_factory=_default_home, description="Data directory.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file `kriptik.db` in `home`.",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 or hex 32-byte key that wraps the vault's key-encryption keys.",
    )
    require_services: bool = Field(
        default=False,
        description="Tests: fail instead of skipping when PostgreSQL/dockerd/Chromium are missing.",
    )

    # The LLM. `llm_base_url` unset means OpenRouter; set it for Ollama, vLLM or LM Studio.
    model: str = "anthropic/claude-sonnet-4.5"
    fallback_models: list[str] = Field(default_factory=list)
    llm_base_url: str | None = None
    openrouter_api_key: SecretStr | None = Field(
        default=None, description="Server-wide fallback when a user has no OpenRouter key."
    )

    # The agent's limits: per chat turn, and per user per UTC day.
    agent_request_limit: int = Field(default=25, description="Model requests per chat turn.")
    agent_token_limit: int = Field(default=400_000, description="Tokens per chat turn.")
    daily_cost_cap_usd: float | None = Field(
        default=5.0, description="A user's model spend per UTC day; unset for no cap."
    )
    history_messages: int = Field(
        default=120, description="Messages of a thread's history sent with each turn."
    )

    # Provider base URLs: real public endpoints by default, loopback fakes in tests.
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    huggingface_base_url: str = "https://huggingface.co"
    runpod_rest_base_url: str = "https://api.runpod.io/v2"
    runpod_jobs_base_url: str = "https://api.runpod.ai/v2"
    github_api_base_url: str = "https://api.github.com"
    github_web_base_url: str = "https://github.com"
    vercel_base_url: str = "https://api.vercel.com"
    netlify_base_url: str = "https://api.netlify.com/api/v1"
    aws_sts_base_url: str = "https://sts.amazonaws.com"

    http_timeout_s: float = 30.0

    # Chat app.
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        default=None, description="The app's own URL, for CORS and OAuth redirects."
    )
    auth_secret: SecretStr | None = Field(
        default=None, description="JWT signing secret. Default: generated into `home`."
    )
    login_attempts_per_address: int = Field(
        default=20, ge=1, description="Password logins per client address per 15 minutes."
    )
    github_oauth_client_id: str | None = None
    github_oauth_client_secret: SecretStr | None = None

    # Several instances on one PostgreSQL (docs/deploy.md).
    instance_id: str = Field(
        default="local",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="This instance's durable-workflow executor id: distinct per instance "
        "sharing a database, and the same across its restarts.",
    )

    # How long a key question or an approval waits for the person: long enough to sign up
    # with a provider in another tab.
    ask_timeout_s: int = Field(default=600, gt=0)
    # Each instance sharing one database recovers only its own deployment workflows, so
    # every instance needs its own, stable id.
    instance_id: str = Field(default="local", pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    # Docker.
    docker_cli: Path = Path("/usr/bin/docker")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside `home`."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.home / 'kriptik.db'}"

    @property
    def app_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
