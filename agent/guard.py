"""Keeping keys out of everything the model reads or writes.

Two nets, both cheap:

- `REDACTOR` knows every key this process has decrypted or received (raw, base64 and
  URL-encoded forms);
- `KEY_LIKE` recognises the shapes of provider keys this process has never seen: a key a
  user pasted into the chat, or one a model invented or was told.

`looks_secret` and `mask` apply both. The run loop refuses a chat message that holds a
key, refuses tool arguments that hold one (the model gets `ModelRetry`, the audit row
gets the masked arguments), and refuses to send a model request that holds a known key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from vault import REDACTOR
from vault.redact import MASK

__all__ = ["KEY_LIKE", "looks_secret", "mask", "masked_args"]

KEY_LIKE: Final = re.compile(
    "|".join(
        (
            r"sk-[A-Za-z0-9_-]{20,}",  # OpenRouter (sk-or-v1-...), OpenAI-style
            r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
            r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub classic and app tokens
            r"github_pat_[A-Za-z0-9_]{40,}",  # GitHub fine-grained
            r"rpa_[A-Za-z0-9]{30,}",  # RunPod
            r"nfp_[A-Za-z0-9]{30,}",  # Netlify
            r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",  # AWS access key id
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
            # Anything else long and random-looking: mixed case and digits, 32+ characters.
            # Hex digests, repo ids and model names lack one of the three or are shorter.
            r"\b(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[0-9])"
            r"[A-Za-z0-9_-]{32,}\b",
        )
    )
)


def looks_secret(text: str) -> bool:
    """True when `text` holds a known key (any encoding) or something shaped like a key."""
    return REDACTOR.redact(text) != text or KEY_LIKE.search(text) is not None


def mask(text: str) -> str:
    """`text` with known keys and key-shaped strings replaced by the redaction mask."""
    return KEY_LIKE.sub(MASK, REDACTOR.redact(text))


def masked_args(args: Mapping[str, Any] | str | None) -> str:
    """Tool arguments as sorted JSON, masked: the form the audit stores."""
    if args is None:
        return "{}"
    text = args if isinstance(args, str) else json.dumps(args, sort_keys=True, default=str)
    return mask(text)
