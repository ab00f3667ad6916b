"""The delivery worker: a collector background loop that routes outbox events, runs
escalations and sends deliveries, one task per channel so a slow channel holds up only
itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from picket import metrics
from picket.collector.notify.channels import DeliveryError, SendContext
from picket.collector.notify.secretbox import SecretBox
from picket.collector.notify.store import (
    Claim,
    advance_escalations,
    claim_next,
    dispatch_events,
    due_channels,
    record_outcome,
    redact,
    renew_claim,
)
from picket.db.engine import transaction
from picket.db.types import utcnow

log = logging.getLogger("picket.notify")

# httpx logs every request URL at INFO, and a Telegram or webhook URL is a credential.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

DEFAULT_RETRY_DELAYS = (10.0, 30.0, 60.0, 120.0, 300.0)


class NotificationWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        secret_key: str = "",
        api_public_url: str = "",
        now: Callable[[], datetime] = utcnow,
        poll_interval_s: float = 1.0,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        max_attempts: int = 6,
        send_timeout_s: float = 15.0,
        lease_s: float = 15.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.sessions = sessions
        self.box = SecretBox(secret_key)
        self.api_public_url = api_public_url
        self.now = now
        self.poll_interval_s = poll_interval_s
        self.retry_delays = retry_delays
        self.max_attempts = max_attempts
        self.send_timeout_s = send_timeout_s
        # A live worker renews its claim while it sends; a claim left to expire is a
        # crashed worker's, and the delivery is attempted again.
        self.lease = timedelta(seconds=lease_s)
        self._http = http
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        owns_client = self._http is None
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:
                    log.exception("notification tick failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval_s)
            await self._finish()
        finally:
            # Cancelled (or past the grace): sends cut short stay "sending" until their
            # lease ends, then the next worker retries them.
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            if owns_client:
                await self._http.aclose()
                self._http = None

    async def tick(self) -> None:
        """Route new events, fire due escalation steps, start a task for each channel with
        a due delivery that has none running."""
        channels = await asyncio.to_thread(self._plan)
        for channel_id in channels:
            if channel_id not in self._tasks:
                self._tasks[channel_id] = asyncio.create_task(
                    self._drain(channel_id), name=f"notify-{channel_id}"
                )

    async def idle(self) -> None:
        """Wait until every channel task started so far has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _finish(self, grace_s: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=grace_s)

    def _plan(self) -> list[str]:
        now = self.now()
        with transaction(self.sessions) as session:
            dispatch_events(session, now)
        with transaction(self.sessions) as session:
            advance_escalations(session, now)
        with self.sessions() as session:
            return due_channels(session, now)

    def _claim(self, channel_id: str) -> Claim | None:
        with transaction(self.sessions) as session:
            return claim_next(
                session,
                channel_id,
                self.now(),
                box=self.box,
                lease=self.lease,
                max_attempts=self.max_attempts,
                api_public_url=self.api_public_url,
            )

    def _record(self, claim: Claim, error: DeliveryError | None) -> str:
        with transaction(self.sessions) as session:
            return record_outcome(
                session,
                claim,
                error,
                self.now(),
                retry_delays=self.retry_delays,
                max_attempts=self.max_attempts,
            )

    async def _drain(self, channel_id: str) -> None:
        try:
            while True:
                claim = await asyncio.to_thread(self._claim, channel_id)
                if claim is None:
                    return
                renewing = asyncio.create_task(self._keep_claim(claim))
                try:
                    error = await self._send(claim)
                finally:
                    renewing.cancel()
                    await asyncio.gather(renewing, return_exceptions=True)
                status = await asyncio.to_thread(self._record, claim, error)
                self._log(claim, status, error)
                metrics.record_delivery(claim.kind.name, status)
        except Exception:
            log.exception("notification channel %s: delivery loop failed", channel_id)
        finally:
            self._tasks.pop(channel_id, None)

    async def _keep_claim(self, claim: Claim) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            await asyncio.to_thread(self._renew, claim)

    def _renew(self, claim: Claim) -> None:
        with transaction(self.sessions) as session:
            renew_claim(session, claim, self.now() + self.lease)

    async def _send(self, claim: Claim) -> DeliveryError | None:
        assert self._http is not None
        ctx = SendContext(http=self._http, timeout_s=self.send_timeout_s)
        try:
            async with asyncio.timeout(self.send_timeout_s + 5):
                await claim.kind.send(claim.config, claim.event, ctx)
        except DeliveryError as exc:
            return exc
        except TimeoutError:
            return DeliveryError(f"{claim.kind.name}: timed out", permanent=False)
        except Exception as exc:  # a channel bug must not stop the others
            return DeliveryError(
                f"{claim.kind.name}: unexpected {type(exc).__name__}", permanent=False
            )
        return None

    def _log(self, claim: Claim, status: str, error: DeliveryError | None) -> None:
        # Only ids, the type and the (already redacted) outcome: never config values.
        if error is None:
            log.info(
                "delivery %s to %s channel %s: delivered (attempt %s)",
                claim.delivery_id,
                claim.kind.name,
                claim.channel_id,
                claim.attempt,
            )
            return
        log.warning(
            "delivery %s to %s channel %s: %s after attempt %s: %s",
            claim.delivery_id,
            claim.kind.name,
            claim.channel_id,
            status,
            claim.attempt,
            redact(error.message, list(claim.secrets)),
        )
