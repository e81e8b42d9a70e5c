"""The sign-in tables, as ORM rows: login throttling shared by every instance, and
invitations to sign in with GitHub.

```
login_windows   password logins per client address in the current window
login_delays    consecutive failures per (account, address), and when the next try may run
github_invites  GitHub accounts (by numeric id or login) an admin invited to sign in
```

Queries live in `vault.logins` (`LoginThrottle`) and `vault.github_accounts`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base, utcnow

__all__ = ["ACCOUNT_LIMIT", "ADDRESS_LIMIT", "GitHubInvite", "LoginDelay", "LoginWindow"]

# The account column holds the name as typed (unknown names are throttled too), cut to this.
ACCOUNT_LIMIT: Final = 128
ADDRESS_LIMIT: Final = 64


class LoginWindow(Base):
    """Attempts from one address since `started_at`; a new window starts once it is over."""

    __tablename__ = "login_windows"

    address: Mapped[str] = mapped_column(sa.String(ADDRESS_LIMIT), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)


class LoginDelay(Base):
    """Failures in a row for one account from one address; the next attempt from there is
    checked no earlier than `next_at`."""

    __tablename__ = "login_delays"

    account: Mapped[str] = mapped_column(sa.String(ACCOUNT_LIMIT), primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(ADDRESS_LIMIT), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class GitHubInvite(Base):
    """An invitation for one GitHub account: `subject` is `id:<number>` (the account, for
    good) or `login:<name>` (whoever holds the login at their first sign-in, which binds
    the account's id)."""

    __tablename__ = "github_invites"

    subject: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    invited_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
