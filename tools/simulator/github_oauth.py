"""GitHub's OAuth web flow at `github.com`, and organisation memberships, for the GitHub
fake (`tools.simulator.github.GitHubFake` mixes this in).

Neither is in the REST subset (`github-rest.subset.openapi.json`), so the routes are
unchecked and their shapes are GitHub's documented ones:

(The GitHub App's web flow and the device flow live in `github_app_oauth.py` and
`github_device_oauth.py`; `authorize` hands the App's client id to the former.)

- `GET /login/oauth/authorize?client_id&redirect_uri&state&scope`: github.com asks the
  person to authorise the app once, then redirects straight back for an app they have
  authorised, with `?code=...&state=...`. The fake does the latter, as the account whose
  browser session is signed in (`signed_in`, a token of the fake's `users`).
- `POST /login/oauth/access_token` with `client_id`, `client_secret`, `code`: a new token
  for that account, with the scopes the authorisation asked for; JSON when the request
  accepts it, else form-encoded (GitHub's default). Errors are HTTP 200 with `error`.
- `GET /user/memberships/orgs/{org}` (REST, "Get an organization membership for the
  authenticated user"): the `org-membership` object, 404 for a non-member, 403 without
  the `read:org` scope.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.responses import RedirectResponse, Response

from tools.simulator._base import FakeRequest, json_response, route

__all__ = ["OAUTH_CLIENT_SECRET", "GitHubApp", "GitHubUser", "GitHubWebFlowRoutes"]

OAUTH_CLIENT_SECRET = "fake-oauth-app-secret-0000000000000000000"  # the fake OAuth app's own
_ORG_SCOPES = frozenset({"read:org", "write:org", "admin:org"})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class GitHubUser:
    """A GitHub account as the fake knows it: its login, its token's scopes, its id."""

    login: str = "octo-tester"
    scopes: str | None = "repo, workflow"  # None: a fine-grained token (no header)
    id: int = 1001  # GitHub's numeric user id
    orgs: dict[str, str] = field(default_factory=dict[str, str])  # org (lowercase) -> state


@dataclass
class GitHubApp:
    """The fake's registered GitHub App (what its settings page on GitHub holds); its routes
    are in `github_app_oauth`."""

    client_id: str = "Iv23liFAKEgithubApp0"
    client_secret: str = "fake-github-app-secret-000000000000000000"
    slug: str = "kriptik-fake"
    callback_url: str | None = None
    installations: list[int] = field(default_factory=list[int])


def _form(req: FakeRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(req.body.decode()).items()}


class GitHubWebFlowRoutes:
    """The routes in the module docstring, over the fake's `users` (token -> account)."""

    users: dict[str, GitHubUser]
    client_id: str
    app: GitHubApp

    def reset_web_flow(self) -> None:
        self.signed_in: str | None = None  # the browser's github.com session: a token
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (token, scope)
        self._minted = itertools.count(1)

    def sign_in_as(self, user: GitHubUser) -> str:
        """Sign the browser in at github.com as `user` (added to `users`); returns its token."""
        token = f"gho_FAKEsession{user.id:0>27}"
        self.users[token] = user
        self.signed_in = token
        return token

    if TYPE_CHECKING:  # GitHubFake's own

        def error(
            self, status: int, message: str, *, headers: dict[str, str] | None = None
        ) -> Response: ...
        def app_authorize(self, req: FakeRequest) -> Response: ...

    @route("GET", "/login/oauth/authorize", checked=False)
    async def authorize(self, req: FakeRequest) -> Response:
        query, redirect = req.query, req.query.get("redirect_uri", "")
        if query.get("client_id") == self.app.client_id:
            return self.app_authorize(req)  # github_app_oauth.py
        if query.get("client_id") != self.client_id:
            return self.error(404, "Not Found")  # github.com: an error page, no redirect
        if urlsplit(redirect).hostname not in _LOOPBACK or self.signed_in is None:
            return self.error(400, "The redirect_uri is not associated with this application.")
        code = f"code-{next(self._minted)}"
        self.codes[code] = (self.signed_in, query.get("scope", ""))
        back = urlencode({"code": code, "state": query.get("state", "")})
        return RedirectResponse(f"{redirect}?{back}", status_code=302)

    def exchange_code(self, req: FakeRequest) -> Response:
        """The code grant of `POST /login/oauth/access_token` (the device grant is the fake's)."""
        form = _form(req)
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != OAUTH_CLIENT_SECRET
        ):
            return self.oauth_answer(req, {"error": "incorrect_client_credentials"})
        found = self.codes.pop(form.get("code", ""), None)
        if found is None:
            return self.oauth_answer(req, {"error": "bad_verification_code"})
        session, scope = found
        scopes = ", ".join(s for s in scope.replace(",", " ").split() if s)
        token = f"gho_FAKEweb{next(self._minted):0>30}"
        self.users[token] = replace(self.users[session], scopes=scopes)
        return self.oauth_answer(
            req, {"access_token": token, "token_type": "bearer", "scope": scopes.replace(" ", "")}
        )

    def oauth_answer(self, req: FakeRequest, data: dict[str, Any]) -> Response:
        """A token-endpoint answer: JSON when accepted, else form-encoded (GitHub's default)."""
        if "application/json" in req.headers.get("accept", ""):
            return json_response(data)
        return Response(urlencode(data), media_type="application/x-www-form-urlencoded")

    @route("GET", "/user/memberships/orgs/{org}", checked=False)
    async def org_membership(self, req: FakeRequest) -> Response:
        account: GitHubUser = req.account
        granted = {s.strip() for s in (account.scopes or "").split(",")}
        if account.scopes is not None and not granted & _ORG_SCOPES:
            return self.error(403, "You need at least read:org scope or user scope to list your organization memberships.",
                              headers={"x-accepted-oauth-scopes": "read:org"})  # fmt: skip
        org = req.params["org"]
        state = account.orgs.get(org.lower())
        if state is None:
            return self.error(404, "Not Found")
        return json_response(_membership(req.base_url, org, account, state))


def _membership(base: str, org: str, account: GitHubUser, state: str) -> dict[str, Any]:
    o = f"{base}/orgs/{org}"
    return {
        "url": f"{o}/memberships/{account.login}", "state": state, "role": "member",
        "organization_url": o,
        "organization": {"login": org, "id": 9001, "node_id": "O_fake", "url": o, "repos_url": f"{o}/repos",
                         "events_url": f"{o}/events", "hooks_url": f"{o}/hooks", "issues_url": f"{o}/issues",
                         "members_url": f"{o}/members{{/member}}", "public_members_url": f"{o}/public_members{{/member}}",
                         "avatar_url": f"{base}/avatars/{org}", "description": None},
        "user": {"login": account.login, "id": account.id, "type": "User", "url": f"{base}/users/{account.login}"},
        "permissions": {"can_create_repository": False},
    }  # fmt: skip
