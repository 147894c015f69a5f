"""One retry policy for every request of a download, at the transport boundary.

Like urllib3's ``Retry`` (which it is built on): a budget of ``max_retries`` failures per request
(a range, the stream, the probe), exponential backoff with jitter, capped at ``backoff_max``; a
server's ``Retry-After`` (429, 503) is honoured up to ``retry_after_max``. What is worth another
try is decided by type before it gets here (:class:`~bot.downloads.errors.Retryable`): a status in
:data:`RETRY_STATUS`, a connection that failed or timed out, a body cut short. A range that made
progress since its last failure starts with a fresh budget, so a long download over a flaky link
is not ended by failures spread over hours. When the budget is spent the last failure becomes
:class:`~bot.downloads.errors.RetriesExhausted`, whose partial file is kept for a re-run.

Waits are on the run's stop event: a cancel or a deadline ends them at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from bot.downloads.control import Control
from bot.downloads.errors import RetriesExhausted, Retryable
from bot.downloads.netguard import mask_url
from bot.downloads.progress import Retrying
from bot.downloads.reasons import Reason

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class RetryPolicy:
    """The policy of one download: ``max_retries`` retries, backoff from ``backoff`` seconds up to
    ``backoff_max``, ``Retry-After`` up to ``retry_after_max``; each retry is reported to
    ``on_retry``. :meth:`start` gives the budget of one request."""

    def __init__(
        self,
        url: str,
        control: Control,
        *,
        max_retries: int,
        backoff: float,
        backoff_max: float,
        retry_after_max: float,
        on_retry: Callable[[Retrying], None] | None = None,
    ) -> None:
        self.url = url
        self.control = control
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.on_retry = on_retry

    def fresh(self) -> Retry:
        return Retry(
            total=self.max_retries,
            backoff_factor=self.backoff,
            backoff_max=self.backoff_max,
            backoff_jitter=self.backoff / 2,
            status_forcelist=RETRY_STATUS,
            allowed_methods=None,
            raise_on_status=False,
            respect_retry_after_header=True,
            retry_after_max=int(self.retry_after_max),
        )

    def start(self) -> Tries:
        return Tries(self)


class Tries:
    """The retry budget of one request; :meth:`failed` counts a failure and waits, or gives up."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._retry = policy.fresh()

    def failed(self, exc: Retryable, progressed: bool = False) -> None:
        """Count ``exc`` (on a fresh budget if bytes arrived since the last failure), then wait
        as the policy says; raises :class:`RetriesExhausted` when the budget is spent, or the
        run's own end (cancel, deadline) when that comes first."""
        policy, control = self.policy, self.policy.control
        control.check()
        if progressed:
            self._retry = policy.fresh()
        raw = getattr(exc.response, "raw", None)
        tries = policy.max_retries + 1
        try:
            self._retry = self._retry.increment(
                method="GET",
                url=policy.url,
                response=raw,
                error=None if raw is not None else Urllib3Error(str(exc)),
            )
        except MaxRetryError:
            if exc.why.code == Reason.TIMED_OUT:
                raise RetriesExhausted(Reason.TIMED_OUT_RETRIES, tries=tries) from None
            raise RetriesExhausted(Reason.RETRIES_EXHAUSTED, exc.why, tries=tries) from None
        wait = self._retry.get_backoff_time()
        if raw is not None:
            after = self._retry.get_retry_after(raw)
            if after is not None:
                wait = min(after, policy.retry_after_max)
        log.info("%s: %s; retrying in %.1fs", mask_url(policy.url), exc, wait)
        if policy.on_retry is not None:
            attempt = tries - (self._retry.total or 0)
            policy.on_retry(Retrying(attempt=attempt, total=tries, reason=exc.why, wait=wait))
        control.stop.wait(wait)
        control.check()
