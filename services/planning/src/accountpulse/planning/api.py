"""Planning's REST routes: an account's plan (read, write, review), its whitespace, the list of
plans, and restructure proposals. Thin: parse, authorise, open a unit of work, call a command
or a query, shape the answer. Every write takes an ``Idempotency-Key``; plan writes also take
``If-Match`` (the ETag of a read) to refuse overwriting someone else's change."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from accountpulse.common.auth import Admin, Reader, Writer
from accountpulse.common.events.plans import StaleReason
from accountpulse.common.idempotency import IdempotencyKey, idempotent_write
from accountpulse.common.pagination import CursorCodec, Page
from accountpulse.common.problems import InvalidField, NotFound
from accountpulse.common.service import Runtime, current_runtime
from accountpulse.planning import queries
from accountpulse.planning.commands import plans as plan_commands
from accountpulse.planning.commands import restructure
from accountpulse.planning.commands.restructure import HttpIngestionClient, IngestionClient
from accountpulse.planning.schemas import PlanIn, PlanOut, ReviewIn, WhitespaceOut
from accountpulse.planning.settings import PlanningSettings
from accountpulse.planning.store import plans

PlanningRuntime = Annotated[Runtime[PlanningSettings], Depends(current_runtime)]
# the ids ingestion accepts (it refuses any other on creation)
ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._~@-]+$")]
ProposalIdPath = Annotated[uuid.UUID, Path(description="A proposal id (a UUID)")]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=r'^\s*(W/)?"?[0-9]{1,18}"?\s*$',
        description='The ETag of a read of this plan, such as "3"',
    ),
]

PLANS = CursorCodec("plans", str)  # by account id

router = APIRouter(prefix="/v1", tags=["planning"])
portfolio_router = APIRouter(prefix="/v1/portfolio", tags=["portfolio"])


async def ingestion_client(runtime: PlanningRuntime) -> IngestionClient:
    """Where applying a proposal reassigns accounts (a dependency: tests override it; a
    coroutine, so FastAPI does not hand it to its thread pool)."""
    settings = runtime.settings
    return HttpIngestionClient(settings.ingestion_url, settings.ingestion_timeout_s)


Ingestion = Annotated[IngestionClient, Depends(ingestion_client)]


def _parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise InvalidField("If-Match", "etag", "use the ETag of a GET of this plan") from exc


def _with_etag(response: Response) -> Response:
    """The plan's version as its ETag (also on a replayed answer, from its stored body)."""
    response.headers["ETag"] = f'"{orjson.loads(response.body)["version"]}"'
    return response


@router.get("/accounts/{external_id}/plan", response_model=PlanOut)
async def get_plan(
    external_id: ExternalIdPath, principal: Reader, runtime: PlanningRuntime, response: Response
) -> PlanOut:
    async with runtime.units.of(principal) as uow:
        plan = await queries.current_plan(uow, external_id)
    response.headers["ETag"] = f'"{plan.version}"'
    return plan


@router.put(
    "/accounts/{external_id}/plan",
    response_model=PlanOut,
    responses={201: {"model": PlanOut, "description": "Created"}},
)
async def put_plan(
    external_id: ExternalIdPath,
    body: PlanIn,
    principal: Writer,
    runtime: PlanningRuntime,
    request: Request,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create or replace the account's plan (201 when created). Send `If-Match` with the ETag
    you read to refuse overwriting someone else's change (412)."""
    expected = _parse_if_match(if_match)
    async with runtime.units.of(principal) as uow:

        async def write() -> tuple[int, Any]:
            plan, created = await plan_commands.put_plan(uow, external_id, body, expected)
            return (201 if created else 200), plan.model_dump(mode="json")

        response = await idempotent_write(uow, request, idempotency_key, body, write)
    return _with_etag(response)


@router.post("/accounts/{external_id}/plan:review", response_model=PlanOut)
async def review_plan(
    external_id: ExternalIdPath,
    principal: Writer,
    runtime: PlanningRuntime,
    request: Request,
    body: ReviewIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record a review; it clears the staleness reasons it answers (all by default), except
    a time-driven reason whose condition still holds."""
    async with runtime.units.of(principal) as uow:

        async def write() -> tuple[int, Any]:
            plan = await plan_commands.review_plan(uow, external_id, body or ReviewIn())
            return 200, plan.model_dump(mode="json")

        response = await idempotent_write(uow, request, idempotency_key, body, write)
    return _with_etag(response)


@router.get("/accounts/{external_id}:export")
async def export_account(
    external_id: ExternalIdPath, principal: Reader, runtime: PlanningRuntime
) -> dict[str, Any]:
    """Everything planning holds about the account (subject access, portability): its
    projection, its plan — archived or not, with staleness — and every kept version, the facts
    projected for it, and its restructure moves; 404 when planning knows nothing of it."""
    async with runtime.units.of(principal, snapshot=True) as uow:  # one moment
        exported = await queries.account_export(uow, external_id)
    if exported is None:
        raise NotFound(f"Planning knows nothing of account '{external_id}'.")
    return exported


@router.get("/accounts/{external_id}/whitespace", response_model=WhitespaceOut)
async def get_whitespace(
    external_id: ExternalIdPath,
    principal: Reader,
    runtime: PlanningRuntime,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> WhitespaceOut:
    """Products and departments similar accounts (same industry and size band) buy and
    this one does not, with the estimated value and the evidence, best first."""
    async with runtime.units.of(principal) as uow:
        return await queries.whitespace(uow, external_id, limit)


@router.get("/plans", response_model=Page[PlanOut])
async def list_plans(
    principal: Reader,
    runtime: PlanningRuntime,
    stale: bool | None = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    reason: StaleReason | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Page[PlanOut]:
    """Plans by account id, cursor-paginated: pass `next_cursor` back as `cursor`."""
    after = PLANS.decode(cursor)
    async with runtime.units.of(principal) as uow:
        rows = await plans.list_plans(
            uow, stale=stale, owner=owner, reason=reason,
            after=after[0] if after else None, limit=limit + 1,
        )  # fmt: skip
    items = [queries.plan_out(row) for row in rows]
    return PLANS.page(items, limit, key=lambda plan: (plan.account_id,))


@portfolio_router.post("/restructure-proposals", status_code=201)
async def create_proposal(
    principal: Writer,
    runtime: PlanningRuntime,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Re-segment by value and service need and rebalance owners within capacity, moving
    as few accounts as possible; every move says why. Nothing changes until applied."""
    async with runtime.units.of(principal) as uow:

        async def write() -> tuple[int, Any]:
            return 201, await restructure.propose(uow)

        return await idempotent_write(uow, request, idempotency_key, None, write)


@portfolio_router.get("/restructure-proposals/{proposal_id}")
async def get_proposal(
    proposal_id: ProposalIdPath, principal: Reader, runtime: PlanningRuntime
) -> dict[str, Any]:
    async with runtime.units.of(principal) as uow:
        return await queries.proposal_out(uow, str(proposal_id))


@portfolio_router.post("/restructure-proposals/{proposal_id}:apply")
async def apply_proposal(
    proposal_id: ProposalIdPath,
    principal: Admin,
    runtime: PlanningRuntime,
    ingestion: Ingestion,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Apply the moves one by one through ingestion (owner changes are published there);
    progress is recorded per move, so a failed apply resumes where it stopped. With an
    `Idempotency-Key`, a retry gets the first answer (a concurrent one waits for it)."""
    authorization = request.headers.get("authorization", "")

    async def write() -> tuple[int, Any]:
        applied = await restructure.apply(
            runtime.units, principal, str(proposal_id), authorization, ingestion
        )
        return 200, applied

    if idempotency_key is None:  # no key to hold: no transaction open across the moves
        status, applied = await write()
        return Response(orjson.dumps(applied, default=str), status, media_type="application/json")
    async with runtime.units.of(principal) as uow:
        return await idempotent_write(uow, request, idempotency_key, None, write)
