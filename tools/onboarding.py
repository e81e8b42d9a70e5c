"""How a user gets each provider's key: the content of the secure key question.

One entry per provider the agent may ask for: where to sign up, the deep link to the page
that creates a key, the scopes or permissions KripTik needs, and one line of instructions.
The chat UI renders it beside the password field; the model only ever sees `placeholder`.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CONNECT_METHODS",
    "GCP_ROLES",
    "ONBOARDING",
    "SCOPE_MEANINGS",
    "AskableProvider",
    "ConnectMethod",
    "Onboarding",
    "connect_method_label",
    "onboarding",
    "provider_named",
    "scope_meaning",
]

# The providers whose key the agent may ask for in the chat. Google Cloud's is a whole
# service-account JSON file, pasted as it is; AWS's is a role ARN (the card offers the role's
# template first, `tools.aws_onboarding`) or an access key pair.
AskableProvider = Literal[
    "openrouter", "huggingface", "runpod", "github", "vercel", "netlify", "gcp", "aws"
]


# How an account is connected instead of pasting a key (`tools.connect` runs each): GitHub's
# device flow or a GitHub App's web flow, OAuth 2 (Vercel with PKCE, Netlify), and
# OpenRouter's PKCE exchange that hands back a key of the user's own.
ConnectMethod = Literal["device", "github_app", "oauth", "pkce"]

# What the card calls each way of connecting, per provider ("connected via ...").
CONNECT_METHODS: Final[dict[tuple[str, str], str]] = {
    ("github", "device"): "GitHub device flow",
    ("github", "github_app"): "GitHub App",
    ("vercel", "oauth"): "Sign in with Vercel",
    ("netlify", "oauth"): "Netlify OAuth",
    ("openrouter", "pkce"): "OpenRouter key exchange",
}

# What each scope or permission asked for lets KripTik do, shown beside it on the card.
SCOPE_MEANINGS: Final[dict[str, str]] = {
    "repo": "create a repository and push the app's code",
    "write:packages": "push the worker image to GitHub's container registry",
    "administration:write": "create the app's repository",
    "contents:write": "push the app's code",
    "workflows:write": "push the app's workflow files",
    "Full Account": "create the project and deploy it",
    "openid": "know which account you connected",
    "email": "show the account's email",
    "profile": "show the account's name",
    "offline_access": "stay connected (a refresh token, renewed by itself)",
    "roles/run.admin": "create, check, call and delete the Cloud Run service",
    "roles/iam.serviceAccountUser": "run the service as a service account of the project",
    "roles/artifactregistry.writer": "push the worker image to Artifact Registry",
}


# The roles a Google Cloud service account needs: Cloud Run services (create, read, delete,
# invoke: `tools.targets.cloudrun.REQUIRED_PERMISSIONS`), running a revision as a service
# account, and pushing the worker image (`tools.pipeline.artifact_registry`).
GCP_ROLES: Final = ("roles/run.admin", "roles/iam.serviceAccountUser",
                    "roles/artifactregistry.writer")  # fmt: skip


def connect_method_label(provider: str, method: str) -> str:
    """ "GitHub device flow", or the method's own name for a pairing not listed."""
    return CONNECT_METHODS.get((provider, method), method.replace("_", " "))


def scope_meaning(scope: str) -> str | None:
    return SCOPE_MEANINGS.get(scope)


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
            instructions="For models deployed on RunPod a Read token will do (it starts with "
            "hf_). To deploy on Hugging Face Inference Endpoints, create a Write token instead, "
            "or a fine-grained one with the Inference Endpoints permissions: a Read token "
            "cannot create endpoints. Copy it and paste it here.",
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
            keys_url="https://github.com/settings/tokens/new?scopes=repo,write:packages"
            "&description=KripTik%20AI",
            scopes=("repo", "write:packages"),
            instructions="Generate a classic token with the repo and write:packages scopes (the"
            " worker image goes to GitHub's container registry), copy it and paste it here.",
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
        Onboarding(
            provider="gcp", title="Google Cloud", env_name="GOOGLE_APPLICATION_CREDENTIALS_JSON",
            signup_url="https://console.cloud.google.com/freetrial",
            keys_url="https://console.cloud.google.com/iam-admin/serviceaccounts",
            scopes=GCP_ROLES,
            instructions="Create a service account in the project to deploy in and grant it "
            "these roles. Then open it, go to Keys > Add key > Create new key > JSON, and paste "
            "the whole downloaded file here.",
        ),
        Onboarding(
            provider="aws", title="AWS", env_name="AWS_ROLE_ARN",
            signup_url="https://portal.aws.amazon.com/billing/signup",
            keys_url="https://console.aws.amazon.com/iam/home#/security_credentials",
            scopes=(),
            instructions="Recommended: create the role from KripTik's CloudFormation template "
            "(it trusts KripTik only with your external id) and paste the stack's RoleArn "
            "output here. Or paste an access key pair as ACCESS_KEY_ID SECRET_ACCESS_KEY.",
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
