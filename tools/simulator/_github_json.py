"""GitHub response bodies with every field the published schemas require, and every
`url` built from the fake's own base URL."""

from __future__ import annotations

from typing import Any

_WHEN = "2026-01-01T00:00:00Z"


def _user_urls(base: str, login: str, user_id: int = 1001) -> dict[str, Any]:
    u = f"{base}/users/{login}"
    return {
        "login": login, "id": user_id, "node_id": "MDQ6VXNlcjEwMDE=", "avatar_url": f"{base}/avatars/{login}",
        "gravatar_id": "", "url": u, "html_url": f"{base}/{login}", "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}", "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs", "repos_url": f"{u}/repos", "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events", "type": "User", "site_admin": False,
    }  # fmt: skip


def private_user(base: str, login: str, user_id: int = 1001) -> dict[str, Any]:
    return _user_urls(base, login, user_id) | {
        "name": login.replace("-", " ").title(), "company": None, "blog": "", "location": None,
        "email": f"{login}@example.com", "hireable": None, "bio": None, "public_repos": 1, "public_gists": 0,
        "followers": 0, "following": 0, "created_at": _WHEN, "updated_at": _WHEN, "private_gists": 0,
        "total_private_repos": 1, "owned_private_repos": 1, "disk_usage": 10, "collaborators": 0,
        "two_factor_authentication": True, "user_view_type": "private",
    }  # fmt: skip


def full_repository(base: str, owner: str, name: str, private: bool) -> dict[str, Any]:
    r = f"{base}/repos/{owner}/{name}"
    templated = {
        "archive_url": "{archive_format}{/ref}", "assignees_url": "/assignees{/user}", "blobs_url": "/git/blobs{/sha}",
        "branches_url": "/branches{/branch}", "collaborators_url": "/collaborators{/collaborator}",
        "comments_url": "/comments{/number}", "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
        "contents_url": "/contents/{+path}", "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}",
        "git_tags_url": "/git/tags{/sha}", "issue_comment_url": "/issues/comments{/number}",
        "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}",
        "labels_url": "/labels{/name}", "milestones_url": "/milestones{/number}",
        "notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
        "releases_url": "/releases{/id}", "statuses_url": "/statuses/{sha}", "trees_url": "/git/trees{/sha}",
    }  # fmt: skip
    plain = ["contributors", "deployments", "downloads", "events", "forks", "hooks", "languages", "merges",
             "stargazers", "subscribers", "subscription", "tags", "teams"]  # fmt: skip
    urls = {k: r + ("/" if v[0] == "{" else "") + v for k, v in templated.items()}
    urls |= {f"{p}_url": f"{r}/{p}" for p in plain}
    return urls | {
        "id": 5001, "node_id": "R_kgDOFake", "name": name, "full_name": f"{owner}/{name}",
        "owner": _user_urls(base, owner), "private": private, "html_url": f"{base}/{owner}/{name}",
        "description": None, "fork": False, "url": r, "clone_url": f"{base}/{owner}/{name}.git",
        "git_url": f"git://fake/{owner}/{name}.git", "ssh_url": f"git@fake:{owner}/{name}.git",
        "svn_url": f"{base}/{owner}/{name}", "mirror_url": None, "homepage": None, "language": None,
        "forks_count": 0, "forks": 0, "stargazers_count": 0, "watchers_count": 0, "watchers": 0,
        "size": 1, "default_branch": "main", "open_issues_count": 0, "open_issues": 0,
        "has_issues": True, "has_projects": True, "has_wiki": True, "has_pages": False,
        "has_discussions": False, "archived": False, "disabled": False, "license": None,
        "pushed_at": _WHEN, "created_at": _WHEN, "updated_at": _WHEN, "network_count": 0,
        "subscribers_count": 1, "visibility": "private" if private else "public",
    }  # fmt: skip


def ref(base: str, owner: str, name: str, ref_name: str, sha: str) -> dict[str, Any]:
    r = f"{base}/repos/{owner}/{name}/git"
    return {"ref": f"refs/{ref_name}", "node_id": "REF_fake", "url": f"{r}/refs/{ref_name}",
            "object": {"type": "commit", "sha": sha, "url": f"{r}/commits/{sha}"}}  # fmt: skip


def commit(base: str, owner: str, name: str, sha: str, data: dict[str, Any]) -> dict[str, Any]:
    r = f"{base}/repos/{owner}/{name}/git"
    person = {"name": "KripTik", "email": "bot@kriptik.invalid", "date": _WHEN}
    return {
        "sha": sha, "node_id": "C_fake", "url": f"{r}/commits/{sha}", "html_url": f"{base}/{owner}/{name}/commit/{sha}",
        "author": person, "committer": person, "message": data["message"],
        "tree": {"sha": data["tree"], "url": f"{r}/trees/{data['tree']}"},
        "parents": [{"sha": p, "url": f"{r}/commits/{p}", "html_url": f"{base}/{owner}/{name}/commit/{p}"} for p in data["parents"]],
        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None},
    }  # fmt: skip


def tree(
    base: str, owner: str, name: str, sha: str, files: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    r = f"{base}/repos/{owner}/{name}/git"
    entries = [
        {"path": p, "mode": m, "type": "blob", "sha": s, "url": f"{r}/blobs/{s}"}
        for p, (m, s) in sorted(files.items())
    ]
    return {"sha": sha, "url": f"{r}/trees/{sha}", "tree": entries, "truncated": False}
