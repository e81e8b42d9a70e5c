"""The system of record: database and migrations, encrypted credentials, users, and the
redactor. Imports nothing of ours."""

from vault.credentials import DEFAULT_LABEL, CredentialStore, CredentialView, Validation
from vault.errors import (
    CredentialNotFound,
    DecryptError,
    InvalidSecret,
    MasterKeyError,
    UnknownProvider,
    UserError,
    VaultError,
)
from vault.providers import PROVIDERS, STRUCTURED, Provider, parse_provider
from vault.redact import REDACTOR, Redactor, install_log_redaction, redact
from vault.settings import Settings, get_settings
from vault.store import Vault
from vault.users import UserStore, UserView

__all__ = [
    "DEFAULT_LABEL",
    "PROVIDERS",
    "REDACTOR",
    "STRUCTURED",
    "CredentialNotFound",
    "CredentialStore",
    "CredentialView",
    "DecryptError",
    "InvalidSecret",
    "MasterKeyError",
    "Provider",
    "Redactor",
    "Settings",
    "UnknownProvider",
    "UserError",
    "UserStore",
    "UserView",
    "Validation",
    "Vault",
    "VaultError",
    "get_settings",
    "install_log_redaction",
    "parse_provider",
    "redact",
]
