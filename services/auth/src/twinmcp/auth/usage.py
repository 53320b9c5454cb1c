"""Usage per key per day and keys' last use: counted in memory, flushed to SQL periodically."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter

from sqlalchemy.exc import SQLAlchemyError
from twinmcp.auth.accounts import AccountStore

logger = logging.getLogger(__name__)


class UsageRecorder:
    """Aggregates per process and adds the deltas to SQL, so N replicas never double count.

    A request storm costs one additive UPSERT per (key, day) and one UPDATE per key per flush
    interval instead of a write per request. A crash loses at most one interval of counts.
    """

    def __init__(self, store: AccountStore) -> None:
        self._store = store
        self._counts: Counter[tuple[str, dt.date]] = Counter()  # (subject, day) -> requests
        self._last_used: dict[str, dt.datetime] = {}
        self._lock = asyncio.Lock()

    def record_request(self, subject: str, cost: int) -> None:
        """Counts an admitted request of a `key:<id>` or `user:<id>` subject."""
        if subject.startswith(("key:", "user:")):
            self._counts[(subject, self._store.now().date())] += cost

    def note_key_used(self, key_id: str) -> None:
        self._last_used[key_id] = self._store.now()

    async def flush(self) -> None:
        async with self._lock:
            counts, self._counts = self._counts, Counter()
            last_used, self._last_used = self._last_used, {}
            try:
                await self._write(counts, last_used)
            except (SQLAlchemyError, OSError) as exc:
                # Keep the deltas for the next attempt rather than lose them.
                self._counts.update(counts)
                for key_id, when in last_used.items():
                    self._last_used[key_id] = max(when, self._last_used.get(key_id, when))
                logger.warning("could not flush usage (%s); will retry", type(exc).__name__)

    async def _write(
        self, counts: Counter[tuple[str, dt.date]], last_used: dict[str, dt.datetime]
    ) -> None:
        key_ids = [subject[4:] for subject, _day in counts if subject.startswith("key:")]
        owners = await self._store.owners_of(key_ids)
        rows: Counter[tuple[str, str, dt.date]] = Counter()
        for (subject, day), n in counts.items():
            kind, _, ident = subject.partition(":")
            if kind == "key":
                if ident in owners:  # a subject naming no stored key is not anyone's usage
                    rows[(owners[ident], ident, day)] += n
            else:
                rows[(ident, "", day)] += n
        await self._store.add_usage(rows)
        await self._store.touch_keys(last_used)

    async def run(self, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            await self.flush()
