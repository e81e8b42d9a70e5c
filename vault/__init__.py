"""The system of record: database and migrations, encrypted credentials, users, and the
redactor. Imports nothing of ours.

Names are imported on first use (PEP 562): the CLI and the redactor must not pay for
SQLAlchemy and Alembic at start-up when they do not touch the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Light modules load eagerly. `redact` must: it names both a submodule and a function, and
# a lazily-loaded submodule would rebind the package attribute to the module.
from vault.errors import (
    CredentialNotFound,
    DecryptError,
    InvalidSecret,
    MasterKeyError,
    OAuthStateInvalid,
    UnknownProvider,
    UserError,
    VaultError,
)
from vault.lazy import lazy_exports
from vault.providers import PROVIDERS, STRUCTURED, Provider, parse_provider
from vault.redact import REDACTOR, Redactor, install_log_redaction, redact

if TYPE_CHECKING:
    from vault.credentials import DEFAULT_LABEL, CredentialStore, CredentialView, Validation
    from vault.settings import Settings, get_settings, isolated_settings
    from vault.store import Vault
    from vault.users import UserStore, UserView

_HOME = {
    "DEFAULT_LABEL": "credentials",
    "CredentialStore": "credentials",
    "CredentialView": "credentials",
    "Validation": "credentials",
    "CredentialNotFound": "errors",
    "DecryptError": "errors",
    "InvalidSecret": "errors",
    "MasterKeyError": "errors",
    "OAuthStateInvalid": "errors",
    "UnknownProvider": "errors",
    "UserError": "errors",
    "VaultError": "errors",
    "PROVIDERS": "providers",
    "STRUCTURED": "providers",
    "Provider": "providers",
    "parse_provider": "providers",
    "REDACTOR": "redact",
    "Redactor": "redact",
    "install_log_redaction": "redact",
    "redact": "redact",
    "Settings": "settings",
    "get_settings": "settings",
    "isolated_settings": "settings",
    "Vault": "store",
    "UserStore": "users",
    "UserView": "users",
}
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
    "OAuthStateInvalid",
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
    "isolated_settings",
    "parse_provider",
    "redact",
]


__getattr__ = lazy_exports(__name__, _HOME)
