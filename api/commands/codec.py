"""The operators' codec acts: an admin has Temporal payloads decoded (to read a stuck
workflow's input in the Web UI or the CLI) or encoded (to send one); each call audited, as a
decoded payload may hold a candidate's sealed record or a contact's address."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.api.common.v1 import Payload

from api.commands.base import Ctx, command
from domain.auth import Role
from domain.processes import AuditEvent
from store.processes import ProcessRepository


async def _audit(ctx: Ctx, action: str, namespace: str, data: dict[str, object]) -> None:
    await ProcessRepository(ctx.conn).audit(
        AuditEvent(
            actor=str(ctx.principal.user_id),
            action=action,
            entity_type="temporal_namespace",
            entity_id=namespace,
            data=data,
        )
    )


@command(Role.ADMIN, audited=False)
async def decode(ctx: Ctx, payloads: Sequence[Payload], namespace: str, via: str) -> list[Payload]:
    """Payloads as the Temporal server holds them → as the workflow sees them. A payload
    that is not Relais' (already plain) or that no configured key opens comes back as sent."""
    codec = ctx.client.data_converter.payload_codec
    if codec is None:  # every Relais client has the encryption codec
        raise RuntimeError("the Temporal client has no payload codec")
    out: list[Payload] = []
    undecoded = 0
    for p in payloads:
        try:
            [plain] = await codec.decode([p])
        except Exception:  # unknown key id, tampered ciphertext: shown as it is stored
            plain, undecoded = p, undecoded + 1
        out.append(plain)
    data = {"payloads": len(out), "undecoded": undecoded, "via": via}
    await _audit(ctx, "payloads_decoded", namespace, data)
    return out


@command(Role.ADMIN, audited=False)
async def encode(ctx: Ctx, payloads: Sequence[Payload], namespace: str, via: str) -> list[Payload]:
    """The other direction, for the CLI (`temporal workflow signal --input …` with the
    codec endpoint): plain payloads encrypted with the current payload key."""
    codec = ctx.client.data_converter.payload_codec
    if codec is None:
        raise RuntimeError("the Temporal client has no payload codec")
    out = await codec.encode(payloads)
    await _audit(ctx, "payloads_encoded", namespace, {"payloads": len(out), "via": via})
    return out
