"""Git objects as git itself hashes them (blob, tree, commit), for the GitHub fake: an
identical tree gets an identical SHA, which is what makes "no empty commits" testable."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GitRepo:
    owner: str
    name: str
    private: bool
    # sha -> (type, data)
    objects: dict[str, tuple[str, Any]] = field(default_factory=dict[str, tuple[str, Any]])
    refs: dict[str, str] = field(default_factory=dict[str, str])  # "heads/main" -> commit sha

    def put(self, kind: str, payload: bytes, data: Any) -> str:
        sha = hashlib.sha1(f"{kind} {len(payload)}\0".encode() + payload).hexdigest()  # noqa: S324
        self.objects[sha] = (kind, data)
        return sha

    def blob(self, content: bytes) -> str:
        return self.put("blob", content, content)

    def tree(self, files: dict[str, tuple[str, str]]) -> str:
        """Write the nested trees for {path: (mode, blob_sha)}; returns the root SHA."""
        here: dict[str, tuple[str, str]] = {}
        subdirs: dict[str, dict[str, tuple[str, str]]] = {}
        for path, entry in files.items():
            head, _, rest = path.partition("/")
            if rest:
                subdirs.setdefault(head, {})[rest] = entry
            else:
                here[head] = entry
        for name, sub in subdirs.items():
            here[name] = ("40000", self.tree(sub))
        # git orders entries by name, a tree sorting as if its name ended in "/".
        order = sorted(here, key=lambda n: n + "/" if here[n][0] == "40000" else n)
        payload = b"".join(
            f"{here[n][0]} {n}\0".encode() + bytes.fromhex(here[n][1]) for n in order
        )
        return self.put("tree", payload, {n: here[n] for n in order})

    def flatten(self, tree_sha: str, prefix: str = "") -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for name, (mode, sha) in self.objects[tree_sha][1].items():
            if mode == "40000":
                out |= self.flatten(sha, f"{prefix}{name}/")
            else:
                out[prefix + name] = (mode, sha)
        return out

    def commit(self, tree: str, parents: list[str], message: str, when: int) -> str:
        person = f"KripTik <bot@kriptik.invalid> {when} +0000"
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author {person}\ncommitter {person}\n\n{message}"
        return self.put(
            "commit", text.encode(), {"tree": tree, "parents": parents, "message": message}
        )

    def ancestors(self, sha: str) -> set[str]:
        """`sha` and every commit it descends from."""
        seen, todo = set[str](), [sha]
        while todo:
            if (cur := todo.pop()) not in seen and cur in self.objects:
                seen.add(cur)
                todo += self.objects[cur][1]["parents"]
        return seen

    def commit_count(self) -> int:
        return sum(kind == "commit" for kind, _ in self.objects.values())

    def files(self, branch: str = "main") -> dict[str, bytes]:
        """The branch's files, path -> content."""
        tree = self.objects[self.refs[f"heads/{branch}"]][1]["tree"]
        return {p: self.objects[sha][1] for p, (_, sha) in self.flatten(tree).items()}
