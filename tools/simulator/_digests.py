"""Files by digest, as the web hosts take them: Vercel and Netlify both name each file by
its SHA-1, list the digests they still lack, and accept an upload only when its bytes
hash to the digest it claims. One store per fake, shared by all of its deployments (so a
file already uploaded is never asked for again)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["accept", "missing", "public", "sha1"]


def sha1(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()  # noqa: S324 (the hosts' own content digest)


def missing(store: Mapping[str, bytes], digests: Iterable[str]) -> list[str]:
    """The digests the store lacks, sorted and once each (what the host asks to upload)."""
    return sorted({sha for sha in digests if sha not in store})


def accept(store: dict[str, bytes], raw: bytes, digest: str | None) -> bool:
    """Keep `raw` under `digest` if it really hashes to it; False (kept nowhere) if not."""
    if digest is None or sha1(raw) != digest:
        return False
    store[digest] = raw
    return True


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object as the API shows it: without the fake's own `_` fields."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}
