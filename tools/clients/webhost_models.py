"""Result models of the web-app hosts, Vercel and Netlify (only the fields we use)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "NetlifyDeploy",
    "NetlifySite",
    "NetlifyUser",
    "VercelDeployment",
    "VercelProject",
    "VercelUser",
]

ReadyState = Literal["QUEUED", "INITIALIZING", "BUILDING", "READY", "ERROR", "CANCELED", "BLOCKED"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class VercelUser(_Model):
    id: str
    email: str | None = None
    username: str | None = None
    name: str | None = None
    default_team_id: str | None = Field(default=None, alias="defaultTeamId")


class VercelProject(_Model):
    id: str
    name: str


class VercelDeployment(_Model):
    """A deployment; `url` has no scheme (Vercel's convention), `https_url` adds it."""

    id: str
    url: str
    ready_state: ReadyState = Field(alias="readyState")
    error_message: str | None = Field(default=None, alias="errorMessage")
    inspector_url: str | None = Field(default=None, alias="inspectorUrl")

    @property
    def https_url(self) -> str:
        return f"https://{self.url}"


class NetlifyUser(_Model):
    id: str
    email: str | None = None
    full_name: str | None = None


class NetlifySite(_Model):
    id: str
    name: str
    url: str | None = None
    ssl_url: str | None = None
    admin_url: str | None = None


class NetlifyDeploy(_Model):
    """A deploy; `required` lists the SHA-1s Netlify still needs uploaded."""

    id: str
    site_id: str
    state: str
    required: tuple[str, ...] = ()
    ssl_url: str | None = None
    deploy_ssl_url: str | None = None
    error_message: str | None = None
