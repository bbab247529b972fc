"""Restructure proposals: re-segment the portfolio by value and service need, then rebalance
owners so nobody is over capacity and key accounts sit with KAMs, moving as few accounts as
possible. Pure: the caller gives the accounts and the owners, this returns the moves.

Segments. An account is ``key`` when scoring's value-based tier says so (the Pareto set of
revenue, DOMAIN.md "Tiers"); it then needs a KAM. Every other account is ``managed`` and may
sit with an AM or, while a KAM has slots no key account needs, with a KAM. Service need is
``high`` for an account at risk (health < 40): when an owner has to give accounts away, they
keep the accounts with the highest service need, then the highest value (relationships matter
most where the need is high), and give away the rest.

Minimum moves (proof sketch). Every account whose owner is unknown, not an AM/KAM, or an AM
holding a key account must move; so must, at every owner, all but ``capacity`` of the accounts
that may stay there; and since every key account ends at a KAM, at most
``total KAM capacity − key accounts`` managed accounts can stay at KAMs. These three counts are
lower bounds on the moves of *any* valid assignment. The greedy below keeps exactly as many
accounts as they allow — at a KAM it keeps key accounts before managed ones, which never costs
a stay (exchange argument: swapping a kept managed account for an overflowing key account at
the same KAM keeps that KAM's count and frees one of the scarce KAM slots) — and the movers fit
into the freed capacity whenever key accounts ≤ KAM capacity and accounts ≤ total capacity.
So its number of moves equals the lower bound: it is minimal. When capacity is short, the
accounts that cannot be placed stay where they are and are reported as ``unplaced``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

DEFAULT_CAPACITY = {"kam": 5, "am": 20}
ACCOUNT_MANAGER_ROLES = frozenset(DEFAULT_CAPACITY)


@dataclass(frozen=True)
class Owner:
    user_id: str
    role: str  # "kam" | "am" | "manager"
    capacity: int | None = None  # None: the role's default

    @property
    def effective_capacity(self) -> int:
        return self.capacity if self.capacity is not None else DEFAULT_CAPACITY.get(self.role, 0)


@dataclass(frozen=True)
class PortfolioAccount:
    account_id: str
    owner_id: str | None
    tier: str | None
    value: Decimal  # revenue TTM
    at_risk: bool = False

    @property
    def segment(self) -> str:
        return "key" if self.tier == "key" else "managed"

    @property
    def service_need(self) -> str:
        return "high" if self.at_risk else "normal"


@dataclass(frozen=True)
class Move:
    account_id: str
    from_owner: str | None
    to_owner: str
    segment: str
    reason: str


@dataclass(frozen=True)
class Unplaced:
    account_id: str
    owner_id: str | None
    reason: str


@dataclass(frozen=True)
class RestructureProposal:
    moves: list[Move]
    unplaced: list[Unplaced]
    segments: dict[str, str]  # account id → segment
    load_before: dict[str, int]
    load_after: dict[str, int]
    capacity: dict[str, int]
    notes: list[str] = field(default_factory=list)


def _keep_order(account: PortfolioAccount) -> tuple[bool, Decimal, str]:
    """Who stays first: high service need, then high value, then id (deterministic)."""
    return (account.service_need != "high", -account.value, account.account_id)


def propose_restructure(
    accounts: Sequence[PortfolioAccount], owners: Sequence[Owner]
) -> RestructureProposal:
    carriers = {o.user_id: o for o in owners if o.role in ACCOUNT_MANAGER_ROLES}
    capacity = {uid: o.effective_capacity for uid, o in sorted(carriers.items())}
    kams = [uid for uid, o in carriers.items() if o.role == "kam"]
    key_total = sum(1 for a in accounts if a.segment == "key")
    kam_slots_for_managed = max(0, sum(capacity[k] for k in kams) - key_total)

    stays: dict[str, list[PortfolioAccount]] = {uid: [] for uid in capacity}
    movers: list[tuple[PortfolioAccount, str]] = []  # (account, why it moves)
    managed_at_kams: list[PortfolioAccount] = []
    by_owner: dict[str | None, list[PortfolioAccount]] = {}
    for account in accounts:
        by_owner.setdefault(account.owner_id, []).append(account)

    for owner_id, held in sorted(by_owner.items(), key=lambda kv: kv[0] or ""):
        carrier = carriers.get(owner_id) if owner_id else None
        if carrier is None:
            why = "has no owner" if owner_id is None else f"owner '{owner_id}' is not an AM or KAM"
            movers += [(a, why) for a in held]
            continue
        cap = capacity[carrier.user_id]
        key = sorted((a for a in held if a.segment == "key"), key=_keep_order)
        managed = sorted((a for a in held if a.segment == "managed"), key=_keep_order)
        if carrier.role == "am":
            movers += [(a, f"key account sits with AM '{owner_id}'; it needs a KAM") for a in key]
            key = []
        kept_key = key[:cap]
        movers += [(a, f"'{owner_id}' is over capacity ({len(held)} > {cap})") for a in key[cap:]]
        free = cap - len(kept_key)
        stays[carrier.user_id] += kept_key
        if carrier.role == "am":
            stays[carrier.user_id] += managed[:free]
        else:
            managed_at_kams += managed[:free]
        movers += [
            (a, f"'{owner_id}' is over capacity ({len(held)} > {cap})") for a in managed[free:]
        ]

    # KAM slots are for key accounts first: only the slots no key account needs keep managed ones.
    managed_at_kams.sort(key=_keep_order)
    for account in managed_at_kams[:kam_slots_for_managed]:
        stays[account.owner_id or ""].append(account)
    movers += [
        (a, f"KAM '{a.owner_id}' is needed for key accounts")
        for a in managed_at_kams[kam_slots_for_managed:]
    ]
    return _place(accounts, carriers, capacity, stays, movers)


def _place(
    accounts: Sequence[PortfolioAccount],
    carriers: dict[str, Owner],
    capacity: dict[str, int],
    stays: dict[str, list[PortfolioAccount]],
    movers: list[tuple[PortfolioAccount, str]],
) -> RestructureProposal:
    """Give every mover the owner of the right role with the most free capacity (ties by id);
    key accounts first, by service need and value, so the scarce KAM slots go to them."""
    load = {uid: len(kept) for uid, kept in stays.items()}
    moves: list[Move] = []
    unplaced: list[Unplaced] = []
    ordered = sorted(movers, key=lambda m: (m[0].segment != "key", _keep_order(m[0])))
    for account, why in ordered:
        roles = ("kam",) if account.segment == "key" else ("am", "kam")
        target = _roomiest(carriers, capacity, load, roles, exclude=account.owner_id)
        if target is None:
            need = "KAM" if account.segment == "key" else "AM or KAM"
            unplaced.append(
                Unplaced(
                    account.account_id, account.owner_id, f"{why}; no {need} has capacity left"
                )
            )
            continue
        load[target] += 1
        moves.append(
            Move(
                account.account_id,
                account.owner_id,
                target,
                account.segment,
                f"{why}; moved to {carriers[target].role.upper()} '{target}'"
                f" ({load[target]}/{capacity[target]} after the move)",
            )
        )
    before: dict[str, int] = {}
    for account in accounts:
        if account.owner_id:
            before[account.owner_id] = before.get(account.owner_id, 0) + 1
    after = dict(before)
    for move in moves:
        if move.from_owner:
            after[move.from_owner] -= 1
        after[move.to_owner] = after.get(move.to_owner, 0) + 1
    return RestructureProposal(
        moves=sorted(moves, key=lambda m: m.account_id),
        unplaced=unplaced,
        segments={a.account_id: a.segment for a in accounts},
        load_before=dict(sorted(before.items())),
        load_after=dict(sorted((k, v) for k, v in after.items() if v or k in capacity)),
        capacity=capacity,
    )


def _roomiest(
    carriers: dict[str, Owner],
    capacity: dict[str, int],
    load: dict[str, int],
    roles: Sequence[str],
    exclude: str | None,
) -> str | None:
    """The owner with the most free capacity among the first role that has any."""
    for role in roles:
        free = [
            (capacity[uid] - load[uid], uid)
            for uid, owner in carriers.items()
            if owner.role == role and uid != exclude and load[uid] < capacity[uid]
        ]
        if free:
            return min(free, key=lambda f: (-f[0], f[1]))[1]
    return None
