"""The Chainlit app. Loaded by `kriptik serve`; the only module tree that imports chainlit."""

# Chainlit's decorators and session store are only partly annotated; strict mode would
# flag every use. Our own code in this file is still fully typed.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false

from __future__ import annotations

import chainlit as cl
from chainlit.server import sio
from pydantic import SecretStr

from agent import Final, Notice, TextDelta, TurnContext, run_turn
from ui import runtime
from vault import install_log_redaction, redact

install_log_redaction()
_settings = runtime.settings()
# socket.io accepts any origin by default; a session cookie must only work from our page.
sio.eio.cors_allowed_origins = [_settings.app_url]


@cl.on_app_startup
async def _startup() -> None:
    await runtime.start_app_vault()


@cl.on_app_shutdown
async def _shutdown() -> None:
    await runtime.stop_app_vault()


@cl.password_auth_callback
async def _login(username: str, password: str) -> cl.User | None:
    vault = await runtime.start_app_vault()
    user = await vault.users.verify(username.strip().lower(), SecretStr(password))
    if user is None:
        return None
    return cl.User(identifier=user.name, metadata={"id": user.id, "role": user.role})


if _settings.github_oauth_client_id and _settings.github_oauth_client_secret:

    @cl.oauth_callback
    async def _oauth(
        provider_id: str,
        token: str,
        raw_user_data: dict[str, str],
        default_user: cl.User,
        id_token: str | None = None,
    ) -> cl.User | None:
        from ui.oauth import github_user

        return await github_user(await runtime.start_app_vault(), default_user)


@cl.on_message
async def _on_message(message: cl.Message) -> None:
    user = cl.user_session.get("user")
    if not isinstance(user, cl.User):
        return
    vault = runtime.app_vault()
    ctx = TurnContext(
        settings=_settings, vault=vault, user_id=str(user.metadata["id"]), user_name=user.identifier
    )
    reply = cl.Message(content="")
    try:
        async for event in run_turn(ctx, message.content):
            match event:
                case TextDelta():
                    await reply.stream_token(event.text)
                case Notice():
                    reply.content = event.text
                case Final():
                    pass
        await reply.send()
    except Exception as error:  # shown as a next step, never a traceback
        await cl.Message(
            content=redact(
                f"Something went wrong: {type(error).__name__}: {error}. Try again; if it keeps"
                " happening, check the server log."
            )
        ).send()
        raise
