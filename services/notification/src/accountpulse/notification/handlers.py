"""What each consumed event does, inside the consumer's unit of work: keep the projections
(owners, users, contracts, health readings) and raise the alerts the tenant's rules ask for.

The handlers that raise alerts share one :class:`~accountpulse.notification.raising.AlertRaiser`,
configured by the service's settings (the default dedup window, the delivery policy)."""

from __future__ import annotations

from collections.abc import Sequence

from accountpulse.common.events import (
    AccountErased,
    AccountMerged,
    AccountOwnerChanged,
    AccountUpserted,
    AlertResolved,
    ContractChanged,
    EventPayload,
    NpsRecorded,
    PlanGoalOffTrack,
    PlanStale,
    ScoreChanged,
    TierChanged,
    UserErased,
    UserUpserted,
)
from accountpulse.common.messaging.consumer import continuing, standing_by_version
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.projections import (
    mark_merged,
    of_live_accounts,
    remember_erased,
    retired_among,
)
from accountpulse.common.uow import UnitOfWork
from accountpulse.notification.domain import rules
from accountpulse.notification.domain.config import AlertRules
from accountpulse.notification.domain.renewal import next_due_on
from accountpulse.notification.domain.rules import AlertDraft
from accountpulse.notification.raising import AlertRaiser, load_rules, parse_rules
from accountpulse.notification.store import facts, merges, recipients

_DEFAULT_DROP_WINDOW_DAYS = AlertRules().health_dropped.drop_window_days
AccountEvent = AccountUpserted | AccountOwnerChanged


class NotificationHandlers:
    """The handler of each event type notification consumes (see ``consumers``)."""

    def __init__(self, raiser: AlertRaiser) -> None:
        self._raiser = raiser

    async def on_scores_changed(
        self, uow: UnitOfWork, envelopes: Sequence[Envelope[ScoreChanged]]
    ) -> None:
        """Set-based: the health readings of a run of score changes recorded, and what each
        change's rule needs read, in one statement; then the alerts, event by event in the
        run's order, each in its own event's trace."""
        envelopes = await of_live_accounts(uow, envelopes)
        if not envelopes:
            return
        all_facts = await facts.record_health(
            uow,
            [
                facts.HealthReading(e.account_id, e.computed_at, e.scores.get("health"))
                for e in (envelope.payload for envelope in envelopes)
            ],
            default_window_days=_DEFAULT_DROP_WINDOW_DAYS,
        )
        for envelope, score_facts in zip(envelopes, all_facts, strict=True):
            event = envelope.payload
            tenant_rules = parse_rules(score_facts.rules_json)
            drafts = rules.for_score_changed(event, tenant_rules, score_facts.highest_health)
            if drafts:
                with continuing(envelope, "notification raise alerts"):
                    await self._raise(
                        uow, envelope, event.account_id, event.owner_id, drafts, tenant_rules
                    )

    async def on_score_changed(self, uow: UnitOfWork, envelope: Envelope[ScoreChanged]) -> None:
        """One event on its own, as a run of one (the runner calls the batch handler itself;
        this form serves callers with a single event, e.g. tests)."""
        await self.on_scores_changed(uow, [envelope])

    async def on_tier_changed(self, uow: UnitOfWork, envelope: Envelope[TierChanged]) -> None:
        event = envelope.payload
        if await retired_among(uow, [event.account_id]):
            return  # arrived after the account's erasure or merge (another topic)
        tenant_rules = await load_rules(uow)
        drafts = rules.for_tier_changed(event, tenant_rules)
        await self._raise(uow, envelope, event.account_id, event.owner_id, drafts, tenant_rules)

    async def on_plan_stale(self, uow: UnitOfWork, envelope: Envelope[PlanStale]) -> None:
        event = envelope.payload
        if await retired_among(uow, [event.account_id]):
            return
        tenant_rules = await load_rules(uow)
        drafts = rules.for_plan_stale(event, tenant_rules)
        await self._raise(uow, envelope, event.account_id, event.owner_id, drafts, tenant_rules)

    async def on_goal_off_track(
        self, uow: UnitOfWork, envelope: Envelope[PlanGoalOffTrack]
    ) -> None:
        event = envelope.payload
        if await retired_among(uow, [event.account_id]):
            return
        tenant_rules = await load_rules(uow)
        drafts = rules.for_goal_off_track(event, tenant_rules)
        await self._raise(uow, envelope, event.account_id, event.owner_id, drafts, tenant_rules)

    async def on_nps_recorded(self, uow: UnitOfWork, envelope: Envelope[NpsRecorded]) -> None:
        event = envelope.payload
        tenant_rules = await load_rules(uow)
        drafts = rules.for_nps_recorded(event, tenant_rules)
        await self._raise(uow, envelope, event.account_id, None, drafts, tenant_rules)

    async def _raise(
        self,
        uow: UnitOfWork,
        envelope: Envelope[EventPayload],
        account_id: str,
        owner_hint: str | None,
        drafts: list[AlertDraft],
        tenant_rules: AlertRules,
    ) -> None:
        for draft in drafts:
            await self._raiser.raise_for_account(
                uow,
                account_id,
                draft,
                owner_hint=owner_hint,
                source_event_id=envelope.id,
                rules=tenant_rules,
            )

    # The projections the rules read; they raise nothing themselves.

    async def on_contract_changed(
        self, uow: UnitOfWork, envelope: Envelope[ContractChanged]
    ) -> None:
        """Keep the contract; the renewal job alerts when its next window opens."""
        event = envelope.payload
        windows = (await load_rules(uow)).contract_renewal.windows
        await facts.upsert_contract(
            uow,
            account_id=event.account_id,
            contract_id=event.contract_id,
            ends_on=event.ends_on,
            auto_renew=event.auto_renew,
            version=event.version,
            due_on=next_due_on(event.ends_on, windows, None),
        )

    async def on_accounts_changed(
        self, uow: UnitOfWork, envelopes: Sequence[Envelope[AccountEvent]]
    ) -> None:
        """Set-based: the owners of a run of account upserts or owner changes in one statement,
        from each account's standing event."""
        if not envelopes:
            return
        standing = standing_by_version(envelopes, lambda e: e.payload.version)
        await facts.upsert_accounts(
            uow,
            [
                facts.AccountOwner(e.payload.account_id, e.payload.owner_id, e.payload.version)
                for e in standing
            ],
        )

    async def on_account_upserted(self, uow: UnitOfWork, envelope: Envelope[AccountEvent]) -> None:
        """One event on its own, as a run of one (the runner calls the batch handler itself;
        this form serves callers with a single event, e.g. tests)."""
        await self.on_accounts_changed(uow, [envelope])

    async def on_account_erased(self, uow: UnitOfWork, envelope: Envelope[AccountErased]) -> None:
        """Everything about the account goes; its id is remembered, so a score change or a
        stale plan of it that arrives later (another topic) raises nothing."""
        await facts.erase_account(uow, envelope.payload.account_id)
        await remember_erased(uow, envelope.payload.account_id)

    async def on_account_merged(self, uow: UnitOfWork, envelope: Envelope[AccountMerged]) -> None:
        """The merged accounts' alerts and contracts follow the survivor: open alerts the merge
        makes duplicates (same rule within the dedup window) are resolved, one kept; the
        contracts' next renewal windows are recomputed, so the survivor's owner is alerted
        for what is still to come. A merge applied again folds nothing twice."""
        event = envelope.payload
        merged = [m for m in event.merged_account_ids if m != event.account_id]
        fresh = await mark_merged(uow, event.account_id, merged, event.version)
        if not fresh:
            return
        tenant_rules = await load_rules(uow)
        since = uow.now() - self._raiser.dedup_window(tenant_rules)
        resolved = await merges.resolve_duplicates(uow, event.account_id, fresh, since=since)
        await merges.repoint(uow, event.account_id, fresh)
        await uow.publish_many(
            [
                AlertResolved(
                    alert_id=r["id"], account_id=event.account_id, rule=r["rule"],
                    recipient_id=r["recipient_id"], resolved_at=uow.now(),
                )
                for r in resolved
            ]
        )  # fmt: skip
        windows = tenant_rules.contract_renewal.windows
        contracts = await merges.lock_contracts(uow, event.account_id)
        await merges.set_due_dates(
            uow, event.account_id,
            [(c["contract_id"], next_due_on(c["ends_on"], windows, c["alerted_window_days"]))
             for c in contracts],
        )  # fmt: skip

    async def on_user_upserted(self, uow: UnitOfWork, envelope: Envelope[UserUpserted]) -> None:
        event = envelope.payload
        quiet = event.quiet_hours or (None, None)
        await recipients.upsert_user(
            uow,
            user_id=event.user_id,
            name=event.name,
            email=event.email,
            manager_id=event.manager_id,
            channels=list(event.channels),
            timezone=event.timezone,
            quiet_start=quiet[0],
            quiet_end=quiet[1],
            webhook_url=event.webhook_url,
            version=event.version,
        )

    async def on_user_erased(self, uow: UnitOfWork, envelope: Envelope[UserErased]) -> None:
        await recipients.erase_user(uow, envelope.payload.user_id)
