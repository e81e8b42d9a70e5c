"""`Vault`: one handle on the system of record (engine, migrations, keys, users, audit log,
spend limits, OAuth flows on their way)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vault.audit import AuditLog
from vault.audit_seal import AuditSeal, open_seal
from vault.credentials import CredentialStore
from vault.db import create_engine, session_factory
from vault.files import check_private
from vault.github_accounts import GitHubAccounts
from vault.keyring import Keyring, MasterKey, load_master_key
from vault.limits import LimitsStore
from vault.migrate import upgrade
from vault.oauth_pending import OAuthPendingStore
from vault.settings import Settings
from vault.users import UserStore
from vault.workflows import WorkflowStore


@dataclass
class Vault:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    master: MasterKey
    master_key_created: bool
    credentials: CredentialStore
    users: UserStore
    github: GitHubAccounts
    seal: AuditSeal
    # Per-user spend limits, with this vault's settings as the operator's defaults.
    limits: LimitsStore
    # OAuth redirect flows between their authorize URL and their callback.
    oauth_pending: OAuthPendingStore
    # ComfyUI workflows users brought to the chat (vault.workflows).
    workflows: WorkflowStore

    @property
    def audit(self) -> AuditLog:
        """The audit log, sealed with this vault's key and anchors."""
        return AuditLog(self.sessions, seal=self.seal)

    @classmethod
    async def open(cls, settings: Settings, *, migrate: bool = True) -> Vault:
        """Load the master key, refuse data files that others can read, connect, and (by
        default) apply migrations."""
        setting = settings.master_key.get_secret_value() if settings.master_key else None
        master, created = load_master_key(setting=setting, home=settings.home)
        check_private(settings.home, settings.resolved_database_url)
        engine = create_engine(settings.resolved_database_url)
        if migrate:
            await upgrade(engine)
        sessions = session_factory(engine)
        keyring = Keyring(master, sessions)
        seal = open_seal(
            master, home=settings.home, instance=settings.instance_id,
            database=engine.url.render_as_string(hide_password=True),
            sink=settings.audit_anchor_file,
        )  # fmt: skip
        return cls(
            engine,
            sessions,
            master,
            created,
            CredentialStore(sessions, keyring, AuditLog(sessions, seal=seal)),
            UserStore(sessions),
            GitHubAccounts(sessions),
            seal,
            LimitsStore(sessions, settings),
            OAuthPendingStore(sessions, keyring),
            WorkflowStore(sessions),
        )

    async def close(self) -> None:
        await self.engine.dispose()
