"""`DemoStack`: the whole simulated world of `kriptik demo` on loopback: every provider
fake, the demo Hub's real models, and the simulated assistant as the chat model.

```
DemoStack.start()
  providers: FakeStack            RunPod, jobs, Hugging Face (+ demo_repos()), GitHub,
                                  Vercel, Netlify, AWS STS, OpenRouter REST, each on 127.0.0.1
  llm: LlmFake(assistant=answer,  chat completions + OpenRouter's /key and /models on one
               rest=openrouter)   base URL, as openrouter.ai/api/v1 serves both
settings_fields()                 every base URL, the model id and the OpenRouter key
keys                              the simulator key a user pastes for each provider
                                  (Google Cloud's: a service-account JSON key file)
```

Nothing here reaches a real provider or stands for a real account. Faults are injected on
the providers, per route, as "METHOD /path-template" (the fakes' own route names):

    demo.providers.runpod.fail("POST /v2/serverless", 500, times=None)   # endpoint create
    demo.providers.runpod.fail("POST /v2/templates", 429, retry_after=1)
    demo.providers.huggingface.fail("GET /api/models/{repo:path}", 503)

(`times=None` fails every call; the default fails the next one only, which the clients'
retries then hide.) A created endpoint's workers report INITIALIZING for
`providers.runpod.state.ready_after` polls (2), then IDLE.
"""

from __future__ import annotations

from typing import Any, Final

from tools.simulator import aws_state
from tools.simulator.all import FakeStack
from tools.simulator.assistant import answer
from tools.simulator.demo_models import GATED, demo_repos
from tools.simulator.github import DEFAULT_TOKEN as GITHUB_TOKEN
from tools.simulator.huggingface import DEFAULT_TOKEN as HF_TOKEN
from tools.simulator.huggingface import HfUser
from tools.simulator.llm import LlmFake
from tools.simulator.netlify import DEFAULT_TOKEN as NETLIFY_TOKEN
from tools.simulator.openrouter import DEFAULT_KEY as OPENROUTER_KEY
from tools.simulator.runpod import DEFAULT_KEY as RUNPOD_KEY
from tools.simulator.server import ServedApp
from tools.simulator.vercel import DEFAULT_TOKEN as VERCEL_TOKEN

__all__ = ["DEMO_MODEL", "DemoStack"]

# The chat model id the app asks OpenRouter for; the simulated assistant answers it.
DEMO_MODEL: Final = "kriptik-demo/assistant"
# Polls of a new endpoint's workers before they are up: long enough to show progress.
_READY_AFTER: Final = 2


class DemoStack:
    """The provider simulator, the demo models and the simulated assistant, on loopback.

    Attributes:
        providers: Every provider fake (inject faults here, see the module docstring).
        llm: The simulated chat model (OpenRouter's wire format).
        keys: Provider name -> the simulator key a user pastes (runpod, huggingface,
            github, vercel, netlify, openrouter; gcp: a service-account JSON key file
            whose throwaway RSA key only the Google fake knows; aws: the AWS fake's access
            key pair). Simulator-only values, nothing secret.
    """

    def __init__(self) -> None:
        self.providers = FakeStack()
        self.llm = LlmFake(rest=self.providers.openrouter, assistant=answer)
        self.keys: dict[str, str] = {
            "runpod": RUNPOD_KEY, "huggingface": HF_TOKEN, "github": GITHUB_TOKEN,
            "vercel": VERCEL_TOKEN, "netlify": NETLIFY_TOKEN, "openrouter": OPENROUTER_KEY,
            # A service account of the Google fake, made once (an RSA key): its JSON key file.
            "gcp": self.providers.google_oauth.state.new_service_account(),
            # The AWS fake's account, as an access key pair (a role would need the demo
            # user's own external id in the fake role's trust policy).
            "aws": f"{aws_state.ACCESS_KEY_ID} {aws_state.SECRET_ACCESS_KEY}",
        }  # fmt: skip
        self._llm_server: ServedApp | None = None
        self._stock()

    def _stock(self) -> None:
        """The demo's world, as a fresh stack has it (again after `reset`)."""
        hub = self.providers.huggingface
        for repo in demo_repos():
            hub.add_repo(repo)
        # The simulator's Hugging Face account has accepted every gated demo repo's
        # licence, so its token reads them, as a real account that asked would.
        user = hub.users.get(HF_TOKEN) or HfUser()
        for repo_id in GATED:
            hub.grant(user.name, repo_id)
        self.providers.runpod.state.ready_after = _READY_AFTER
        # The demo's Google service account, registered again after a reset.
        self.providers.google_oauth.state.register(self.keys["gcp"])

    def start(self) -> DemoStack:
        """Serve everything on 127.0.0.1, each on a random free port."""
        self.providers.start()
        self._llm_server = ServedApp(self.llm)
        return self

    def stop(self) -> None:
        if self._llm_server is not None:
            self._llm_server.stop()
            self._llm_server = None
        self.providers.stop()

    def reset(self) -> None:
        """Forget every resource, call and fault; keep serving (for tests)."""
        self.providers.reset()
        self.llm.reset()
        self._stock()

    @property
    def llm_url(self) -> str:
        if self._llm_server is None:
            raise RuntimeError("start the DemoStack first")
        return self._llm_server.url

    def settings_fields(self) -> dict[str, Any]:
        """`Settings` fields that send the app to this stack: every provider's base URL, and
        the chat model (OpenRouter's wire format, at the simulated assistant)."""
        return self.providers.settings_fields() | {
            "openrouter_base_url": self.llm_url + "/api/v1",
            "model": DEMO_MODEL,
            "openrouter_api_key": OPENROUTER_KEY,
        }

    def __enter__(self) -> DemoStack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
