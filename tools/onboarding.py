"""How a user gets each provider's key: the content of the secure key question.

One entry per provider the agent may ask for: where to sign up, the deep link to the page
that creates a key, the scopes or permissions KripTik needs, and one line of instructions.
The chat UI renders it beside the password field; the model only ever sees `placeholder`.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["ONBOARDING", "AskableProvider", "Onboarding", "onboarding", "provider_named"]

# The providers whose key the agent may ask for in the chat (structured cloud credentials
# are added from the CLI).
AskableProvider = Literal["openrouter", "huggingface", "runpod", "github", "vercel", "netlify"]


class Onboarding(BaseModel):
    """What to show when asking for one provider's key."""

    model_config = ConfigDict(frozen=True)

    provider: AskableProvider
    title: str
    env_name: str
    signup_url: str
    keys_url: str  # the page that creates a key, deep-linked where the provider allows
    scopes: tuple[str, ...]
    instructions: str

    @property
    def placeholder(self) -> str:
        """The only thing the model learns when the key is saved."""
        return f"{self.env_name} stored"


ONBOARDING: Final[dict[AskableProvider, Onboarding]] = {
    o.provider: o
    for o in (
        Onboarding(
            provider="openrouter", title="OpenRouter", env_name="OPENROUTER_API_KEY",
            signup_url="https://openrouter.ai/",
            keys_url="https://openrouter.ai/settings/keys",
            scopes=(),
            instructions="Create a key (a credit limit is wise), copy it once and paste it here.",
        ),
        Onboarding(
            provider="huggingface", title="Hugging Face", env_name="HF_TOKEN",
            signup_url="https://huggingface.co/join",
            keys_url="https://huggingface.co/settings/tokens/new?tokenType=read",
            scopes=("read",),
            instructions="Create a Read token (it starts with hf_), copy it and paste it here.",
        ),
        Onboarding(
            provider="runpod", title="RunPod", env_name="RUNPOD_API_KEY",
            signup_url="https://www.runpod.io/console/signup",
            keys_url="https://www.runpod.io/console/user/settings",
            scopes=("Read/Write",),
            instructions="Under API Keys, create a key with Read/Write permission (it starts "
            "with rpa_), copy it and paste it here.",
        ),
        Onboarding(
            provider="github", title="GitHub", env_name="GITHUB_TOKEN",
            signup_url="https://github.com/signup",
            keys_url="https://github.com/settings/tokens/new?scopes=repo&description=KripTik%20AI",
            scopes=("repo",),
            instructions="Generate a classic token with the repo scope, copy it and paste it here.",
        ),
        Onboarding(
            provider="vercel", title="Vercel", env_name="VERCEL_TOKEN",
            signup_url="https://vercel.com/signup",
            keys_url="https://vercel.com/account/settings/tokens",
            scopes=("Full Account",),
            instructions="Create a token for your account or team, copy it and paste it here.",
        ),
        Onboarding(
            provider="netlify", title="Netlify", env_name="NETLIFY_AUTH_TOKEN",
            signup_url="https://app.netlify.com/signup",
            keys_url="https://app.netlify.com/user/applications#personal-access-tokens",
            scopes=(),
            instructions="Create a personal access token, copy it and paste it here.",
        ),
    )
}  # fmt: skip


def onboarding(provider: AskableProvider) -> Onboarding:
    return ONBOARDING[provider]


def provider_named(display_name: str) -> AskableProvider | None:
    """The provider id for a client's display name ("RunPod" -> "runpod")."""
    wanted = display_name.replace(" ", "").lower()
    for provider, entry in ONBOARDING.items():
        if entry.title.replace(" ", "").lower() == wanted or provider == wanted:
            return provider
    return None
