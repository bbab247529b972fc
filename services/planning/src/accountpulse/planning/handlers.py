"""What each consumed event does to planning's projections and plans, inside the consumer's
unit of work: keep the facts, then flag the event-driven staleness reasons at once.

The frequent events (``account.upserted``, ``score.changed``, ``revenue.recorded``) have
set-based handlers: a run of them in one statement per table (see ``messaging.consumer``);
their one-event forms call them with a list of one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from accountpulse.common.events import (
    AccountErased,
    AccountMerged,
    AccountOwnerChanged,
    AccountUpserted,
    ContactChanged,
    ContractChanged,
    EventPayload,
    NpsRecorded,
    RevenueRecorded,
    ScoreChanged,
    TierChanged,
    UserErased,
    UserUpserted,
)
from accountpulse.common.events.plans import StaleReason
from accountpulse.common.messaging.consumer import continuing, latest_by_key, standing_by_version
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.projections import of_live_accounts, remember_erased, retired_among
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning.commands.merges import fold_merge
from accountpulse.planning.commands.staleness import (
    evaluate_goals,
    evaluate_plan_goals,
    flag_stale,
    mark_stale,
)
from accountpulse.planning.domain.staleness import EVALUATION_WINDOW_DAYS
from accountpulse.planning.domain.tiers import tier_updates
from accountpulse.planning.store import accounts, facts, plans

_CONTACT_FIELDS = {
    "account_id", "contact_id", "role", "department", "decision_power", "sentiment", "erased",
}  # fmt: skip


async def on_scores_changed(uow: UnitOfWork, envelopes: Sequence[Envelope[ScoreChanged]]) -> None:
    """Set-based: the tiers in one statement, the windows of the re-segmented accounts in
    one, and one to find the plans not yet flagged ``score_shifted``; only those are
    written, each as part of its account's first event (which flags it, one by one)."""
    envelopes = await of_live_accounts(uow, envelopes)
    if not envelopes:
        return  # every one arrived after its account's erasure or merge (another topic)
    events = [envelope.payload for envelope in envelopes]
    await accounts.apply_tiers(uow, tier_updates(events))
    # As one by one: an older event than the tier applied still opens the window.
    resegmented = {
        e.account_id for e in events if e.tier is not None and e.previous_tier not in (None, e.tier)
    }
    if resegmented:
        await accounts.open_evaluation_windows(uow, sorted(resegmented), _evaluation_due(uow))
    await _mark_stale(uow, envelopes, ["score_shifted"])


async def on_score_changed(uow: UnitOfWork, envelope: Envelope[ScoreChanged]) -> None:
    await on_scores_changed(uow, [envelope])


async def on_tier_changed(uow: UnitOfWork, envelope: Envelope[TierChanged]) -> None:
    """A tier change is a re-segmentation: the plan must be revisited now (score_shifted)
    and the move's effect evaluated in 45 days."""
    event = envelope.payload
    if await retired_among(uow, [event.account_id]):
        return  # arrived after the account's erasure or merge (another topic)
    before = await accounts.replace_tier(uow, event.account_id, event.version, event.tier)
    if before == event.tier:
        return  # already applied (score.changed carried the same tier change)
    await accounts.open_evaluation_window(uow, event.account_id, _evaluation_due(uow))
    await mark_stale(uow, event.account_id, ["score_shifted"])


async def on_accounts_upserted(
    uow: UnitOfWork, envelopes: Sequence[Envelope[AccountUpserted]]
) -> None:
    """Set-based: one upsert of each account's standing event."""
    newest = standing_by_version(envelopes, lambda e: e.payload.version)
    await accounts.apply_accounts(uow, [envelope.payload for envelope in newest])


async def on_account_upserted(uow: UnitOfWork, envelope: Envelope[AccountUpserted]) -> None:
    await on_accounts_upserted(uow, [envelope])


async def on_owner_changed(uow: UnitOfWork, envelope: Envelope[AccountOwnerChanged]) -> None:
    event = envelope.payload
    # The reassignment's evaluation window opens with the owner, in the same statement.
    applied = await accounts.apply_owner_change(
        uow, event.account_id, event.version, event.owner_id, _evaluation_due(uow)
    )
    if applied:
        await mark_stale(uow, event.account_id, ["owner_changed"])


async def on_account_erased(uow: UnitOfWork, envelope: Envelope[AccountErased]) -> None:
    """Everything about the account goes; its id is remembered, so a score or tier change of
    it that arrives later (another topic) writes nothing."""
    await facts.erase_account(uow, envelope.payload.account_id)
    await remember_erased(uow, envelope.payload.account_id)


async def on_account_merged(uow: UnitOfWork, envelope: Envelope[AccountMerged]) -> None:
    """The survivor takes over the merged accounts' facts, stakeholders and plans' content;
    their plans are archived (``commands.merges``)."""
    await fold_merge(uow, envelope.payload)


async def on_revenue_lines_recorded(
    uow: UnitOfWork, envelopes: Sequence[Envelope[RevenueRecorded]]
) -> None:
    """Set-based: the lines in one statement (a line recorded twice: the last wins), then
    the goals of each account with a plan, once, after all its lines."""
    lines = latest_by_key(envelopes, _revenue_line_key)
    await facts.record_revenue_lines(uow, [envelope.payload for envelope in lines])
    last = {_account_id(envelope): envelope for envelope in envelopes}
    for plan in await plans.lock_plans(uow, sorted(last)):
        if plan.body.get("goals"):
            with continuing(last[plan.account_id], "planning evaluate goals"):
                await evaluate_plan_goals(uow, plan)


async def on_revenue_recorded(uow: UnitOfWork, envelope: Envelope[RevenueRecorded]) -> None:
    await on_revenue_lines_recorded(uow, [envelope])


async def on_nps_recorded(uow: UnitOfWork, envelope: Envelope[NpsRecorded]) -> None:
    event = envelope.payload
    await facts.record_nps(
        uow, event.account_id, event.response_id, event.score, event.responded_on
    )
    await evaluate_goals(uow, event.account_id)


async def on_contract_changed(uow: UnitOfWork, envelope: Envelope[ContractChanged]) -> None:
    """Kept for ``renewal_unprepared``, which the scheduler checks as time passes."""
    event = envelope.payload
    await facts.record_contract(
        uow, event.account_id, event.contract_id, event.ends_on, event.auto_renew, event.arr
    )


async def on_contact_changed(uow: UnitOfWork, envelope: Envelope[ContactChanged]) -> None:
    await facts.record_contact(uow, envelope.payload.model_dump(include=_CONTACT_FIELDS))


async def on_user_upserted(uow: UnitOfWork, envelope: Envelope[UserUpserted]) -> None:
    event = envelope.payload
    await facts.upsert_user(uow, event.user_id, event.role, event.capacity, event.version)


async def on_user_erased(uow: UnitOfWork, envelope: Envelope[UserErased]) -> None:
    await facts.erase_user(uow, envelope.payload.user_id)


async def _mark_stale(
    uow: UnitOfWork, envelopes: Sequence[Envelope[EventPayload]], reasons: list[StaleReason]
) -> None:
    """``mark_stale`` for every account of a run, in one statement when no plan needs the
    reasons; a plan that does is flagged in the trace of its account's first event."""
    first: dict[str, Envelope[EventPayload]] = {}
    for envelope in envelopes:
        first.setdefault(_account_id(envelope), envelope)
    for plan in await plans.lock_plans(uow, sorted(first), lacking=reasons):
        with continuing(first[plan.account_id], "planning mark stale"):
            await flag_stale(uow, plan, reasons)


def _evaluation_due(uow: UnitOfWork) -> datetime:
    return uow.now() + timedelta(days=EVALUATION_WINDOW_DAYS)


def _account_id(envelope: Envelope[EventPayload]) -> str:
    return envelope.payload.key_id


def _revenue_line_key(envelope: Envelope[RevenueRecorded]) -> str:
    line = envelope.payload
    return f"{line.account_id}\x00{line.line_id}"  # NUL: never in a text id (PostgreSQL)
