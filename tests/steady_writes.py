"""Revenue written at a steady rate by a client that retries as a careful client does: on a 503
after its ``Retry-After``, on a broken connection at once with a short backoff — always with
the same ``Idempotency-Key``, so a write is never lost and never applied twice. Every answer
is recorded: what was acknowledged, what was refused for a while, and anything unexpected."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Line:
    """One revenue line as sent: unique by its line id (and its Idempotency-Key)."""

    n: int
    account_id: str
    amount: Decimal

    @property
    def line_id(self) -> str:
        return f"fault-line-{self.n:05d}"

    def body(self, today: date) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "amount": str(self.amount),
            "currency": "EUR",
            "booked_on": (today - timedelta(days=1 + self.n % 300)).isoformat(),
            "kind": "new",
        }


@dataclass
class Ledger:
    """What the client saw. Times are ``time.monotonic()``."""

    acknowledged: dict[str, Line] = field(default_factory=dict)  # line id → line
    acks: list[tuple[float, str]] = field(default_factory=list)  # (when, line id)
    unavailable: list[float] = field(default_factory=list)  # 503 answers (with Retry-After)
    connection_errors: list[float] = field(default_factory=list)
    retries: int = 0
    replayed: int = 0  # answers with Idempotent-Replayed: the first attempt had committed
    unexpected: list[str] = field(default_factory=list)  # any other answer: a failure
    given_up: list[str] = field(default_factory=list)  # never acknowledged in time

    def first_acked_after(self, moment: float) -> str | None:
        """The line id of the first write acknowledged after ``moment``, if any yet."""
        return min(((t, line) for t, line in self.acks if t > moment), default=(0, None))[1]

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without any acknowledged write within [start, end]."""
        times = [start, *sorted(t for t, _ in self.acks if start < t < end), end]
        return max(b - a for a, b in itertools.pairwise(times))


class SteadyWriter:
    """``rate_per_s`` revenue lines a second over ``accounts``, until told to stop or
    ``max_writes`` were sent; each write is retried until acknowledged or ``deadline_s``.

    At most ``outstanding`` writes wait for their answer at a time: when the system falls
    that far behind (an outage, or a machine too busy to keep the rate), the writer waits for
    a slot and then goes on at the rate from there, without a burst to catch up — so the
    backlog, and the time to drain it, stay bounded."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        accounts: list[str],
        *,
        rate_per_s: float,
        max_writes: int,
        deadline_s: float,
        in_flight: int = 32,
        outstanding: int = 200,
    ) -> None:
        self.client = client
        self.accounts = accounts
        self.rate_per_s = rate_per_s
        self.max_writes = max_writes
        self.deadline_s = deadline_s
        self.ledger = Ledger()
        self.sent = 0
        self.held_back_s = 0.0  # time the writer waited because ``outstanding`` were unanswered
        self._limit = asyncio.Semaphore(in_flight)
        self._outstanding = asyncio.Semaphore(outstanding)
        self._today = date.today()

    async def upsert_accounts(self) -> None:
        for account_id in self.accounts:
            answer = await self.send("PUT", f"/v1/accounts/{account_id}", {"name": account_id},
                                     key=f"fault-account-{account_id}")  # fmt: skip
            assert answer is not None, f"{account_id}: no answer"
            assert answer.status_code in (200, 201), answer.text

    async def run(self, stop: asyncio.Event) -> None:
        """Send on schedule (a slow answer does not slow the rate, up to ``outstanding``),
        then wait for every write to be acknowledged or given up."""
        writes: list[asyncio.Task[None]] = []
        next_at = time.monotonic()
        while not stop.is_set() and self.sent < self.max_writes:
            waited = time.monotonic()
            await self._outstanding.acquire()
            if (held := time.monotonic() - waited) > 0.05:
                self.held_back_s += held
            n = self.sent
            account_id = self.accounts[n % len(self.accounts)]
            line = Line(n, account_id, Decimal(10 + n % 990) + Decimal(n % 100) / 100)
            writes.append(asyncio.create_task(self._write(line)))
            self.sent += 1
            # late by a moment (a busy event loop): catch up; late by more: go on from now
            next_at = max(next_at + 1 / self.rate_per_s, time.monotonic() - 0.5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), next_at - time.monotonic())
        await asyncio.gather(*writes)

    async def _write(self, line: Line) -> None:
        path = f"/v1/accounts/{line.account_id}/revenue"
        try:
            answer = await self.send("POST", path, line.body(self._today), key=line.line_id)
        finally:
            self._outstanding.release()
        if answer is None:
            self.ledger.given_up.append(line.line_id)
        elif answer.status_code == 201:
            self.ledger.acknowledged[line.line_id] = line
            self.ledger.acks.append((time.monotonic(), line.line_id))
        else:
            self.ledger.unexpected.append(f"{line.line_id}: {answer.status_code} {answer.text}")

    async def send(
        self, method: str, path: str, body: dict[str, Any], *, key: str
    ) -> httpx.Response | None:
        """The final answer to a write (anything but a 503 or a broken connection), or None
        if there was none within the deadline."""
        deadline = time.monotonic() + self.deadline_s
        backoff = 0.1
        while True:
            try:
                async with self._limit:
                    answer = await self.client.request(
                        method, path, json=body, headers={"Idempotency-Key": key}
                    )
            except httpx.TransportError:
                self.ledger.connection_errors.append(time.monotonic())
                wait, backoff = backoff, min(backoff * 2, 1.0)
            else:
                if answer.status_code != 503:
                    if answer.headers.get("idempotent-replayed") == "true":
                        self.ledger.replayed += 1
                    return answer
                self._check_unavailable(answer)
                wait = float(answer.headers.get("retry-after", "1"))
            if time.monotonic() + wait > deadline:
                return None
            self.ledger.retries += 1
            await asyncio.sleep(wait)

    def _check_unavailable(self, answer: httpx.Response) -> None:
        """A 503 must say when to come back, as a problem."""
        self.ledger.unavailable.append(time.monotonic())
        retry_after = answer.headers.get("retry-after", "")
        content_type = answer.headers.get("content-type", "")
        if not retry_after.isdigit() or int(retry_after) < 1 or content_type != PROBLEM:
            self.ledger.unexpected.append(
                f"503 without Retry-After or not a problem: {dict(answer.headers)} {answer.text}"
            )
