"""A per-client brake on answering through one link: ballot stuffing, kept in memory only.

One client once posted 500 forms through one link in 7.7 s. Each client gets a
token bucket per link: ``burst`` submissions at once, then one more every
``interval`` seconds. A post over the limit is answered 429 with the form and
every answer kept, and is neither stored nor logged.

What identifies the client never leaves this process's memory: buckets are
keyed by an HMAC of the client address and the link under a random key made
when the process starts, so nothing here can be written out, joined to a
response or kept across restarts. The price is that the limit holds per
process: per server worker, per Lambda container. On AWS the real per-client
limit belongs at the edge (API Gateway throttling, a WAF rate-based rule);
this is the last line, and the participation page flags a department with
more responses than people either way.

The numbers allow for a shared address: an office behind one NAT, or a kiosk,
sends many legitimate answers through one link. 30 at once and then one every
20 s (180 an hour) lets a large department answer together, while a script
gets 30 through and then a trickle.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

#: Submissions a client may send through one link at once, and the seconds per further one.
DEFAULT_BURST = 30
DEFAULT_INTERVAL = 20
#: Buckets kept at most; beyond it, full ones (clients not seen lately) are forgotten first.
MAX_BUCKETS = 20_000


class BallotLimiter:
    """Token buckets per (client, link), thread-safe, in this process's memory only."""

    def __init__(
        self,
        burst: int = DEFAULT_BURST,
        interval: float = DEFAULT_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.burst = burst
        self.interval = interval
        self.clock = clock
        self.max_buckets = max_buckets
        self._key = secrets.token_bytes(32)
        self._buckets: dict[bytes, tuple[float, float]] = {}  # id -> (tokens, when counted)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Tell whether submissions are limited at all (a burst of 0 turns it off)."""
        return self.burst > 0

    def _id(self, client: str, scope: str) -> bytes:
        message = f"{client}\x00{scope}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:16]

    def _tokens(self, bucket: bytes, now: float) -> float:
        tokens, then = self._buckets.get(bucket, (float(self.burst), now))
        return min(float(self.burst), tokens + max(0.0, now - then) / self.interval)

    def take(self, client: str, scope: str) -> float:
        """Take one submission for ``client`` through ``scope``.

        Return 0 when it may go ahead, else the seconds until the client may
        send again (nothing is taken then).
        """
        if not self.enabled:
            return 0.0
        bucket = self._id(client, scope)
        with self._lock:
            now = self.clock()
            tokens = self._tokens(bucket, now)
            if tokens < 1:
                self._buckets[bucket] = (tokens, now)
                return (1 - tokens) * self.interval
            self._buckets[bucket] = (tokens - 1, now)
            if len(self._buckets) > self.max_buckets:
                self._forget(now)
        return 0.0

    def give_back(self, client: str, scope: str) -> None:
        """Return a submission taken for a post that could not be stored."""
        if not self.enabled:
            return
        bucket = self._id(client, scope)
        with self._lock:
            now = self.clock()
            self._buckets[bucket] = (min(float(self.burst), self._tokens(bucket, now) + 1), now)

    def _forget(self, now: float) -> None:
        """Drop full buckets (as good as new), then the longest-idle ones, down to 3/4 of max."""
        for bucket in [b for b in self._buckets if self._tokens(b, now) >= self.burst]:
            del self._buckets[bucket]
        excess = len(self._buckets) - self.max_buckets * 3 // 4
        if excess > 0:
            idle = sorted(self._buckets, key=lambda b: self._buckets[b][1])[:excess]
            for bucket in idle:
                del self._buckets[bucket]
