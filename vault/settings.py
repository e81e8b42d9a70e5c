"""The one settings object. No other module reads the process environment.

Every field reads `KRIPTIK_<NAME>` (case-insensitive). Secrets are `SecretStr`, so a
settings object can be logged or repr'd without leaking them. Provider base URLs default
to the real public endpoints; tests point them at loopback fakes.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


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
    # A model that reports no price (a local OpenAI-compatible server, `llm_base_url`) still
    # counts against `daily_cost_cap_usd`: its tokens at this rate, so the cap holds for
    # every backend. 0 lets such tokens through uncounted.
    unpriced_llm_usd_per_mtok: float = Field(
        default=3.0, ge=0,
        description="USD per million tokens counted against the daily cap when a model "
        "reports no price.",
    )  # fmt: skip
    llm_prompt_caching: bool = Field(
        default=True,
        description="Cache the fixed prompt prefix (instructions, tool schemas, the "
        "conversation so far) through OpenRouter.",
    )
    history_messages: int = Field(
        default=120, description="Messages of a thread's history sent with each turn."
    )

    # Spend controls (issue "budgets"): the operator's defaults, which an admin may override
    # per user (`user_limits`) and a user may only lower. Dollars are GPU spend, not the
    # agent's LLM spend (that is `daily_cost_cap_usd`).
    # A working day of three 48 GB workers ($1.22/h each, 8 h: $29) fits one deployment's
    # cap; an 80 GB card at three workers does not, and the refusal offers what would fit.
    monthly_budget_usd: float = Field(
        default=100.0, ge=0, description="GPU spend per user per calendar month (UTC)."
    )
    deployment_cap_usd: float = Field(
        default=50.0, ge=0, description="The most one deployment may cost over its lifetime."
    )
    max_live_deployments: int = Field(default=2, ge=0, description="Live endpoints per user.")
    max_workers: int = Field(default=3, ge=1, description="workersMax of one endpoint.")
    max_gpus_per_endpoint: int = Field(default=2, ge=1, description="GPUs per worker.")
    # Every endpoint's lifetime: torn down automatically at its time-to-live, or after it has
    # served nothing for its idle limit, with a warning `expiry_warning_s` before either.
    endpoint_ttl_s: int = Field(default=8 * 3600, gt=0)
    endpoint_idle_limit_s: int = Field(default=3600, gt=0)
    expiry_warning_s: int = Field(default=15 * 60, gt=0)
    # Provider base URLs: real public endpoints by default, loopback fakes in tests.
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    huggingface_base_url: str = "https://huggingface.co"
    runpod_rest_base_url: str = "https://api.runpod.io/v2"
    runpod_jobs_base_url: str = "https://api.runpod.ai/v2"
    github_api_base_url: str = "https://api.github.com"
    github_web_base_url: str = "https://github.com"
    vercel_base_url: str = "https://api.vercel.com"
    netlify_base_url: str = "https://api.netlify.com/api/v1"
    # AWS (SageMaker through a role the user delegates). `{region}` is filled in with the
    # region of each call; STS and IAM are global (signed for us-east-1), the price list is
    # served from us-east-1 only.
    aws_sts_base_url: str = "https://sts.amazonaws.com"
    aws_iam_base_url: str = "https://iam.amazonaws.com"
    aws_sagemaker_base_url: str = "https://api.sagemaker.{region}.amazonaws.com"
    aws_sagemaker_runtime_base_url: str = "https://runtime.sagemaker.{region}.amazonaws.com"
    aws_ecr_base_url: str = "https://api.ecr.{region}.amazonaws.com"
    aws_service_quotas_base_url: str = "https://servicequotas.{region}.amazonaws.com"
    aws_pricing_base_url: str = "https://api.pricing.us-east-1.amazonaws.com"
    # Scale to zero: Application Auto Scaling's policies and the CloudWatch alarm that wakes it.
    aws_application_autoscaling_base_url: str = (
        "https://application-autoscaling.{region}.amazonaws.com"
    )
    aws_cloudwatch_base_url: str = "https://monitoring.{region}.amazonaws.com"
    # KripTik's own AWS principal: it assumes each user's role (with the user's external
    # id) and is the principal that role's trust policy names (`aws_principal_arn`).
    aws_operator_access_key_id: str | None = None
    aws_operator_secret_access_key: SecretStr | None = None
    aws_operator_session_token: SecretStr | None = None
    aws_principal_arn: str | None = Field(
        default=None,
        description="The IAM user or role ARN of KripTik's principal, trusted by users' roles.",
    )
    # The ComfyUI registry (api.comfy.org): which package provides a custom node.
    comfy_registry_base_url: str = "https://api.comfy.org"
    # A workflow URL from the chat is fetched only from public addresses; tests on loopback
    # turn this on (never in production: it would let a chat reach the server's network).
    workflow_fetch_allow_private: bool = False
    # Hugging Face Inference Endpoints' management API, without its `/v2` (the target adds it).
    hf_endpoints_base_url: str = "https://api.endpoints.huggingface.cloud"
    # Google Cloud Run GPUs: the Admin API, Google's OAuth2 token endpoint (service-account
    # keys are exchanged there, whatever `token_uri` a key file names), Resource Manager
    # (the deployer's permission check) and Artifact Registry's Docker endpoint, whose host
    # is per location (`{region}` is filled in with the repository's).
    cloudrun_base_url: str = "https://run.googleapis.com"
    google_oauth_token_url: str = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
    cloud_resource_manager_base_url: str = "https://cloudresourcemanager.googleapis.com"
    artifact_registry_base_url: str = "https://{region}-docker.pkg.dev"

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
    # GET /metrics (Prometheus) is open on loopback only; an app reachable beyond it (a
    # non-loopback host or public URL) asks scrapers for this bearer token, and answers 403
    # while none is set: the counters show how the service is used.
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for GET /metrics beyond loopback."
    )
    github_oauth_client_id: str | None = None
    github_oauth_client_secret: SecretStr | None = None
    # Connected accounts (docs/connect.md). Each app's callback URL is
    # `{public_url}/connect/{provider}/callback`. GitHub: a GitHub App (fine-grained,
    # expiring user tokens, refreshed); without one, the OAuth app above connects through
    # its device flow (Device Flow enabled in its settings).
    github_app_client_id: str | None = None
    github_app_client_secret: SecretStr | None = None
    github_app_slug: str | None = Field(
        default=None, description="The GitHub App's URL name, for its installation page."
    )
    vercel_oauth_client_id: str | None = None  # "Sign in with Vercel" (OAuth 2 + PKCE)
    vercel_oauth_client_secret: SecretStr | None = None
    vercel_web_base_url: str = "https://vercel.com"
    netlify_oauth_client_id: str | None = None
    netlify_oauth_client_secret: SecretStr | None = None
    netlify_web_base_url: str = "https://app.netlify.com"
    openrouter_web_base_url: str = "https://openrouter.ai"
    openrouter_connect: bool = Field(
        default=True, description="Offer OpenRouter's PKCE flow, which needs no registration."
    )
    # Who may sign in with GitHub besides the accounts an admin invited: logins or numeric
    # ids, and organisations whose active members may (checked with the `read:org` scope).
    # Both empty: invited accounts only. Comma-separated in the environment.
    github_allowed_users: Annotated[list[str], NoDecode] = Field(default_factory=list[str])
    github_allowed_orgs: Annotated[list[str], NoDecode] = Field(default_factory=list[str])
    oauth_users_use_server_llm_key: bool = Field(
        default=False,
        description="Let accounts made by GitHub sign-in spend `openrouter_api_key`.",
    )

    @field_validator("github_allowed_users", "github_allowed_orgs", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str) and value.lstrip().startswith("["):
            return json.loads(value)  # the JSON list pydantic-settings takes elsewhere
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # Several instances on one PostgreSQL (docs/deploy.md).
    instance_id: str = Field(
        default="local",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="This instance's durable-workflow executor id: distinct per instance "
        "sharing a database, and the same across its restarts.",
    )
    # Heartbeats and takeovers (`tools.pipeline.takeover`; PostgreSQL only: one SQLite file
    # serves one instance). Each instance writes its heartbeat every `heartbeat_interval_s`
    # (one small UPDATE: 15 s costs nothing). One silent for `instance_timeout_s` is presumed
    # dead and a survivor takes over its deployments. 90 s is six missed beats: far beyond a
    # garbage-collection pause, a slow turn or a database failover, which would otherwise
    # hand a live instance's work to a second runner; and short beside a deployment
    # (minutes), so a user waits about two minutes more when an instance dies for good.
    heartbeat_interval_s: float = Field(default=15.0, gt=0)
    instance_timeout_s: float = Field(default=90.0, gt=0)
    # The audit chain's anchor is always kept in `home`; this sink copies it elsewhere.
    audit_anchor_file: Path | None = Field(
        default=None,
        description="A file to which each audit anchor is also appended (one JSON line), on "
        "storage the database's writers cannot reach; `kriptik audit verify` reads it too.",
    )

    # How long a key question or an approval waits for the person: long enough to sign up
    # with a provider in another tab.
    ask_timeout_s: int = Field(default=600, gt=0)
    # Docker.
    docker_cli: Path = Path("/usr/bin/docker")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "json": one JSON object per line (time, level, logger, message, trace, user and
    # deployment ids; vault/logs.py) for a log pipeline to index; "text" for people.
    log_format: Literal["text", "json"] = "text"
    # Traces (tools/tracing): a chat turn, its model requests and tool calls, and the
    # deployment workflow's steps, sent over OTLP/HTTP (protobuf) to this collector's base
    # URL (`{otlp_endpoint}/v1/traces`, e.g. http://127.0.0.1:4318). Unset: tracing is off,
    # with no exporter and a no-op tracer. No prompt, tool argument or result is sent.
    otlp_endpoint: str | None = None

    # `kriptik demo`: every provider and the LLM are the loopback simulator. The UI says so
    # on every page, and worker images are "built" by the simulator instead of a Docker
    # engine. Refused unless every provider URL is loopback, so a stray setting can never
    # point a simulated build at a real cloud.
    simulation: bool = False

    @field_validator("otlp_endpoint")
    @classmethod
    def _otlp_endpoint_is_a_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # KRIPTIK_OTLP_ENDPOINT= (empty, as in .env.example): tracing off
        if urlsplit(value).scheme not in {"http", "https"}:
            raise ValueError("otlp_endpoint must be an http(s) URL, e.g. http://127.0.0.1:4318")
        return value.strip()

    @model_validator(mode="after")
    def _simulation_stays_on_loopback(self) -> Settings:
        if self.simulation:
            remote = [url for url in self.provider_urls() if not _is_loopback(url)]
            if remote:
                raise ValueError(
                    f"simulation mode talks only to the loopback simulator, not {remote[0]}"
                )
        return self

    @model_validator(mode="after")
    def _timeout_outlasts_heartbeats(self) -> Settings:
        # Fewer than three missed beats would presume an instance dead for one slow write.
        if self.instance_timeout_s < 3 * self.heartbeat_interval_s:
            raise ValueError("instance_timeout_s must be at least 3 x heartbeat_interval_s")
        return self

    def provider_urls(self) -> list[str]:
        """Every provider base URL (the LLM's included, when set)."""
        urls = [
            self.openrouter_base_url, self.huggingface_base_url, self.runpod_rest_base_url,
            self.runpod_jobs_base_url, self.github_api_base_url, self.github_web_base_url,
            self.vercel_base_url, self.netlify_base_url, self.aws_sts_base_url,
            self.aws_iam_base_url, self.aws_sagemaker_base_url,
            self.aws_sagemaker_runtime_base_url, self.aws_ecr_base_url,
            self.aws_service_quotas_base_url, self.aws_pricing_base_url,
            self.aws_application_autoscaling_base_url, self.aws_cloudwatch_base_url,
            self.vercel_web_base_url, self.netlify_web_base_url, self.openrouter_web_base_url,
            self.hf_endpoints_base_url, self.cloudrun_base_url, self.google_oauth_token_url,
            self.cloud_resource_manager_base_url, self.artifact_registry_base_url,
            self.comfy_registry_base_url,
        ]  # fmt: skip
        return urls + ([self.llm_base_url] if self.llm_base_url else [])

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside `home`."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.home / 'kriptik.db'}"

    @property
    def app_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


class _NoEnvironment(Settings):
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def isolated_settings(**fields: object) -> Settings:
    """Settings from `fields` and the defaults alone, never from the environment: the demo
    must not pick up the user's real home, database, keys or LLM server."""
    return _NoEnvironment(**fields)  # pyright: ignore[reportArgumentType]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
