"""One commit with a whole file tree, through GitHub's Git Data API.

```
GET  git/ref/heads/B ──> head commit ──GET git/commits/{head}──> current tree SHA
POST git/blobs (binary files only; text goes inline in the tree)
POST git/trees {tree: [...]} ──> new tree SHA ── equal to current? ──> no commit, done
POST git/commits {tree, parents: [head]} ──> PATCH git/refs/heads/B {sha, force: false}
```

Trees and blobs are content-addressed, so re-posting them is harmless and they are
retried like reads. The tree is sent without `base_tree`: it is the complete snapshot.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from tools.clients._http import HttpApi, as_dict, path_segment

__all__ = ["PushResult", "push_snapshot"]


class PushResult(BaseModel):
    """Where the branch points after a push; `changed` is False when nothing was new."""

    model_config = ConfigDict(frozen=True)

    commit_sha: str
    tree_sha: str
    changed: bool


async def push_snapshot(
    api: HttpApi,
    full_name: str,
    files: Mapping[str, bytes | str],
    *,
    message: str,
    branch: str,
    executable: Collection[str],
) -> PushResult:
    """Make `branch` of `full_name` hold exactly `files`, as at most one new commit."""
    repo = "/".join(path_segment(p) for p in full_name.split("/", 1))
    ref_path = f"/repos/{repo}/git/refs/heads/{quote(branch, safe='/')}"
    what = f"branch {branch} of {full_name}"
    ref = await api.call("GET", f"/repos/{repo}/git/ref/heads/{quote(branch, safe='/')}", what=what)
    head = str(as_dict(as_dict(ref).get("object")).get("sha"))
    commit = await api.call("GET", f"/repos/{repo}/git/commits/{head}", what=what)
    current_tree = as_dict(as_dict(commit).get("tree")).get("sha")
    entries = [
        await _entry(api, repo, path, content, path in executable)
        for path, content in sorted(files.items())
    ]
    tree = await api.call(
        "POST", f"/repos/{repo}/git/trees", json={"tree": entries}, idempotent=True, what=what
    )
    tree_sha = str(as_dict(tree).get("sha"))
    if tree_sha == current_tree:
        return PushResult(commit_sha=head, tree_sha=tree_sha, changed=False)
    body = {"message": message, "tree": tree_sha, "parents": [head]}
    # A retried commit at worst leaves an unreferenced commit object behind: harmless.
    new = await api.call(
        "POST", f"/repos/{repo}/git/commits", json=body, idempotent=True, what=what
    )
    sha = str(as_dict(new).get("sha"))
    await api.call("PATCH", ref_path, json={"sha": sha, "force": False}, idempotent=True, what=what)
    return PushResult(commit_sha=sha, tree_sha=tree_sha, changed=True)


async def _entry(
    api: HttpApi, repo: str, path: str, content: bytes | str, executable: bool
) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": path, "mode": "100755" if executable else "100644"}
    entry["type"] = "blob"
    text = content if isinstance(content, str) else _text(content)
    if text is not None:
        return entry | {"content": text}
    raw = content if isinstance(content, bytes) else content.encode()
    body = {"content": base64.b64encode(raw).decode(), "encoding": "base64"}
    blob = await api.call("POST", f"/repos/{repo}/git/blobs", json=body, idempotent=True, what=path)
    return entry | {"sha": str(as_dict(blob).get("sha"))}


def _text(raw: bytes) -> str | None:
    """The content as text if it is UTF-8 without NUL bytes (then it can be inlined)."""
    if b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
