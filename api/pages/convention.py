"""A convention's printable evaluation, with a chart of targets against actuals."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.commands import convention as conv
from api.commands import processes as procs
from api.deps import PrintableContext
from api.pages.render import page
from domain.convention import KPI_LABELS, Evaluation
from domain.csv_export import MEDIA_TYPE as CSV_MEDIA_TYPE

router = APIRouter(include_in_schema=False)


def _bars(e: Evaluation) -> list[dict[str, Any]]:
    """Targeted KPIs as bar widths (percent of the larger of target and actual)."""
    out = []
    for line in e.lines:
        if line.target is None:
            continue
        top = max(line.target, line.actual, 1)
        out.append(
            {
                "label": KPI_LABELS[line.key],
                "target": line.target,
                "actual": line.actual,
                "percent": line.percent,
                "target_w": round(100 * line.target / top, 1),
                "actual_w": round(100 * line.actual / top, 1),
            }
        )
    return out


@router.get("/conventions/{convention_id}/evaluation", response_class=HTMLResponse)
async def evaluation_page(
    request: Request,
    convention_id: UUID,
    ctx: PrintableContext,
    phase: Annotated[int | None, Query(ge=1, le=99)] = None,
) -> Response:
    """The printable evaluation, with a chart of targets against actuals."""
    found = await conv.visible_convention(ctx, convention_id)
    e = conv.evaluation(found, phase)
    return page(
        request,
        "evaluation.html",
        {"convention": found, "e": e, "bars": _bars(e), "me": await procs.me(ctx)},
    )


@router.get("/conventions/{convention_id}/evaluation.csv")
async def evaluation_csv(
    convention_id: UUID,
    ctx: PrintableContext,
    phase: Annotated[int | None, Query(ge=1, le=99)] = None,
) -> Response:
    """The evaluation's CSV, downloaded from its page with the person's session."""
    found = await conv.visible_convention(ctx, convention_id)
    name, text = await conv.evaluation_csv(ctx, found, phase)
    return Response(
        text,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
