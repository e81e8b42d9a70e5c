"""The description of one generated web app: which page, for which endpoint, under which name.

`project` becomes the GitHub repo, the Vercel project, the Netlify site and the npm
package name, so it is a strict slug. `title` and `description` are free text shown on
the page: any Unicode is allowed except control characters, and the templates escape it
for HTML (autoescape) and JavaScript (JSON). A ComfyUI workflow's page (`kind="workflow"`)
also lists its input `fields`, whose labels come from the user's workflow and are escaped
the same way.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, model_validator

from tools.artifacts._checks import checked
from tools.artifacts.client.fields import InputField
from tools.artifacts.client.spec import EndpointInfo

__all__ = ["AppKind", "AppSpec", "MediaKind", "ProjectName", "check_project_name"]

AppKind = Literal["llm", "image", "media", "generic", "workflow"]
MediaKind = Literal["model3d", "video"]

# GitHub allows more, but Vercel projects and Netlify sites (DNS labels) allow only this.
_PROJECT = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def check_project_name(value: str) -> str:
    """`value` if it can name a repo, a Vercel project and a Netlify site; else `ValueError`."""
    return checked(
        value,
        _PROJECT,
        "cannot name the repo and site: use 1-63 lowercase letters, digits "
        "and single hyphens, starting and ending with a letter or digit (e.g. qwen-chat)",
        refused="--" in value,
    )


def _check_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    # Control characters (newlines included) have no place in a title, and some (U+2028,
    # bidi overrides) change how the surrounding code or text reads.
    bad = [c for c in value if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"}]
    if bad:
        raise ValueError("use a single line of plain text (no control or formatting characters)")
    return value


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("give the app a title (at least 1 character)")
    return value


ProjectName = Annotated[str, AfterValidator(check_project_name)]
_Title = Annotated[
    str, Field(max_length=80), AfterValidator(_check_text), AfterValidator(_non_empty)
]
_Description = Annotated[str, AfterValidator(_check_text), Field(max_length=300)]


class AppSpec(BaseModel):
    """Everything a generated app depends on; rendering it is deterministic.

    Attributes:
        kind: Which page: an LLM chat, an image prompt and gallery, a 3D or video job
            page, a generic JSON form, or a ComfyUI workflow's form (one field per input).
        project: Repo / project / site name (a slug).
        title: Shown in the page header and the README.
        endpoint: The RunPod endpoint the app calls.
        media: For `kind="media"`: a glTF model viewer or a video player.
        description: One line under the title.
        example_input: A valid job input for the worker (prefills the generic form and
            is the integration check's request).
        fields: For `kind="workflow"`: the workflow's inputs, in the order shown.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AppKind
    project: ProjectName
    title: _Title
    endpoint: EndpointInfo
    media: MediaKind | None = None
    description: _Description = ""
    example_input: dict[str, JsonValue] = Field(default_factory=dict[str, Any])
    fields: tuple[InputField, ...] = ()

    @model_validator(mode="after")
    def _media_matches_kind(self) -> Self:
        if self.kind == "media" and self.media is None:
            raise ValueError("a media app needs media='model3d' (glTF viewer) or 'video'")
        if self.kind != "media" and self.media is not None:
            raise ValueError("media is only for kind='media'")
        return self

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Self:
        if self.kind != "workflow":
            if self.fields:
                raise ValueError("fields are only for kind='workflow' (a ComfyUI workflow)")
            return self
        if self.endpoint.target != "runpod":
            raise ValueError("a ComfyUI workflow app calls a RunPod endpoint (target='runpod')")
        names = [f.name for f in self.fields]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"each field needs its own name; repeated: {', '.join(twice)}")
        return self

    @property
    def streams(self) -> bool:
        """Whether the page streams chat tokens (vLLM's OpenAI-compatible route)."""
        return self.kind == "llm" and self.endpoint.openai_compatible
