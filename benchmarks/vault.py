"""The vault's envelope encryption against raw AES-GCM, and the redactor's cost per KB.

    uv run python -m benchmarks.vault

Seal: a fresh 256-bit data key, AES-256-GCM of the secret under it (AAD = the record),
and the data key wrapped by the KEK. Raw: one AES-256-GCM encryption with a fixed key.
The vault does two AES-GCM operations and a key generation per seal, so about 2-3x raw is
its floor. Redaction: one 1 KiB log line through `redact()` with 50 registered keys,
against the same line untouched (a plain copy).
"""

from __future__ import annotations

import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from benchmarks._measure import cpu_note, pair, rate, table
from vault.envelope import RecordBinding, new_key, open_sealed, seal
from vault.redact import Redactor

TARGET = 3.0


def main() -> None:
    kek, secret = new_key(), "rpa_" + secrets.token_urlsafe(40)
    binding = RecordBinding(user_id="u" * 36, provider="runpod", name="default", record_id="r" * 36)
    sealed = seal(secret, kek=kek, kek_version=1, binding=binding)
    raw_key, nonce, data = AESGCM(new_key()), os.urandom(12), secret.encode()
    raw_box = raw_key.encrypt(nonce, data, b"aad")

    rows = []
    for name, ours, theirs in (
        ("seal", lambda: seal(secret, kek=kek, kek_version=1, binding=binding),
         lambda: raw_key.encrypt(os.urandom(12), data, b"aad")),
        ("open", lambda: open_sealed(sealed, kek=kek, binding=binding),
         lambda: raw_key.decrypt(nonce, raw_box, b"aad")),
    ):  # fmt: skip
        a, b = pair(ours, theirs)
        memory = rate(name, ours, seconds=0.2, rounds=1).peak_kib
        rows.append([name, f"{a:,.0f}", f"{b:,.0f}", f"{b / a:.2f}x", f"{memory:.1f}"])

    redactor = Redactor()
    for _ in range(50):
        redactor.register("sk-or-v1-" + secrets.token_hex(32))
    line = ("GET /v2/serverless 200 " * 60)[:1024]
    redacted, copied = pair(lambda: redactor.redact(line), lambda: line.encode().decode())
    per_kib_us = 1e6 / redacted
    print(f"Vault vs raw AES-GCM ({cpu_note()}); target: within {TARGET:.0f}x\n")
    print(table(rows, ["op", "vault ops/s", "raw ops/s", "slower by", "peak KiB"]))
    print(
        f"\nRedactor, 50 keys registered: {per_kib_us:.1f} us per KiB of text "
        f"({redacted:,.0f}/s vs {copied:,.0f}/s for a plain copy: {copied / redacted:.1f}x)"
    )


if __name__ == "__main__":
    main()
