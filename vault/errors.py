"""Vault errors. Every message says what happened and what to do next, and none carries
a secret.

    VaultError
    ├── DecryptError        the master key or a stored record changed
    ├── MasterKeyError      missing, weak or unreadable master key
    ├── InvalidSecret       a key that cannot be right (empty, whitespace, too long...)
    ├── UnknownProvider     a provider name we do not support
    ├── CredentialNotFound  no such key for this user
    ├── OAuthStateInvalid   an OAuth callback's state: unknown, used, expired, or not this
    │                       user's or session's
    ├── UserError           bad user name / password, or duplicate user
    └── ExposedDataFile     a data file or the home directory others can read
"""

from __future__ import annotations


class VaultError(Exception):
    """Base of every vault error; `str()` is safe to show to a user."""


class DecryptError(VaultError):
    def __init__(self, detail: str = "") -> None:
        message = "cannot decrypt: the master key or the record changed"
        if detail:
            message = f"{message} ({detail})"
        message += (
            ". Check that KRIPTIK_MASTER_KEY (or the key file in KRIPTIK_HOME) is the one this"
            " vault was created with. Nothing was overwritten."
        )
        super().__init__(message)


class MasterKeyError(VaultError):
    pass


class InvalidSecret(VaultError):
    pass


class UnknownProvider(VaultError):
    pass


class CredentialNotFound(VaultError):
    pass


class OAuthStateInvalid(VaultError):
    pass


class UserError(VaultError):
    pass


class ExposedDataFile(VaultError):
    pass
