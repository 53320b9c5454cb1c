"""Library changes fanned out to whoever keeps answers: this replica's own state, the gateways
watching it (WatchLibraries), and, over a Redis channel, every other search replica.

A watcher may keep answers only while its feed is *complete*: it hears every change made
anywhere in the fleet. That holds for a lone search process (the embedded SQLite default) and
for replicas subscribed to one Redis channel; it does not hold for replicas sharing PostgreSQL
without Redis, so there watchers keep nothing. When completeness changes (the Redis
subscription drops or comes back) every watch ends, so watchers start over from a fresh sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable

import redis.asyncio as redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

EVERY_LIBRARY = ""  # a change of the catalog as a whole
_END = None  # queued to a watcher: its stream must end
_RETRY_SECONDS = 1.0


class FeedClosed(Exception):
    """The feed is closed (the replica is stopping); watchers should go elsewhere."""


class ChangeFeed:
    """Local fan-out, plus a Redis pub/sub channel shared by the replicas when configured."""

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        channel: str = "twinmcp:search:library-changes",
        is_sole_replica: bool = True,
    ) -> None:
        self._redis_url = redis_url
        self._channel = channel
        self._is_sole_replica = is_sole_replica and redis_url is None
        self._origin = uuid.uuid4().hex
        self._watchers: set[asyncio.Queue[str | None]] = set()
        self._listeners: list[Callable[[str], None]] = []
        self._is_subscribed = False
        self._is_closed = False
        self._task: asyncio.Task[None] | None = None
        self._publisher: redis.Redis | None = None

    @property
    def is_complete(self) -> bool:
        """Whether this replica hears every change made in the fleet, right now."""
        return self._is_sole_replica or self._is_subscribed

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Calls `listener(library_id)` on every change, local or heard from another replica."""
        self._listeners.append(listener)

    async def start(self) -> None:
        if self._redis_url is not None and self._task is None:
            self._task = asyncio.create_task(self._subscribe_forever())

    async def changed(self, library_id: str) -> None:
        """Announces that answers of `library_id` (EVERY_LIBRARY: all) changed, once committed."""
        self._deliver(library_id)
        if self._redis_url is None:
            return
        message = json.dumps({"origin": self._origin, "library_id": library_id})
        try:
            await self._redis().publish(self._channel, message)
        except (RedisError, OSError) as exc:
            # Other replicas may not hear of it: nobody watching this replica may rely on
            # completeness until the channel works again, so its watches end and restart from
            # a fresh sync. (A replica that still hears Redis while this one cannot reach it
            # keeps vouching; the gateways' entry age limit bounds that split.)
            logger.warning("could not announce a change of %s: %s", library_id or "*", exc)
            self._resubscribe()

    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[tuple[bool, AsyncIterator[str]]]:
        """(is_complete now, the library ids that change from here on until the watch ends)."""
        if self._is_closed:
            raise FeedClosed("this search replica is stopping")
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=10_000)
        self._watchers.add(queue)

        async def changes() -> AsyncIterator[str]:
            while True:
                library_id = await queue.get()
                if library_id is _END:
                    return
                yield library_id

        try:
            yield self.is_complete, changes()
        finally:
            self._watchers.discard(queue)

    async def close(self) -> None:
        """Ends every watch (watchers reconnect to another replica) and stops listening."""
        self._is_closed = True
        self._end_watches()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._publisher is not None:
            await self._publisher.aclose()

    # ---- internals ----------------------------------------------------------------------

    def _deliver(self, library_id: str) -> None:
        for listener in self._listeners:
            listener(library_id)
        for queue in list(self._watchers):
            try:
                queue.put_nowait(library_id)
            except asyncio.QueueFull:
                # A watcher this far behind cannot be trusted to have seen everything.
                self._watchers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(_END)

    def _end_watches(self) -> None:
        for queue in list(self._watchers):
            self._watchers.discard(queue)
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(_END)

    def _set_subscribed(self, is_subscribed: bool) -> None:
        if is_subscribed == self._is_subscribed:
            return
        self._is_subscribed = is_subscribed
        logger.log(
            logging.INFO if is_subscribed or self._is_closed else logging.WARNING,
            "library change channel %s; gateways %s keep answers",
            "subscribed" if is_subscribed else "lost",
            "may" if is_subscribed else "may not",
        )
        self._end_watches()  # completeness changed: watchers must sync again

    def _resubscribe(self) -> None:
        """Starts the channel over: complete again only once subscribed anew."""
        self._set_subscribed(False)
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if not self._is_closed:
            self._task = asyncio.create_task(self._subscribe_forever())

    def _redis(self) -> redis.Redis:
        if self._publisher is None:
            self._publisher = redis.Redis.from_url(
                self._redis_url or "", socket_timeout=1.0, socket_connect_timeout=1.0
            )
        return self._publisher

    async def _subscribe_forever(self) -> None:
        while not self._is_closed:
            # The health check pings a quiet connection, so a dead one is noticed.
            client = redis.Redis.from_url(
                self._redis_url or "", socket_connect_timeout=1.0, health_check_interval=5
            )
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._set_subscribed(True)
                    # Changes made while unsubscribed went unheard: forget everything once.
                    self._deliver(EVERY_LIBRARY)
                    while True:
                        message = await pubsub.get_message(timeout=5.0)
                        if message is not None and message.get("type") == "message":
                            self._heard(message.get("data", b""))
            except (RedisError, OSError) as exc:
                logger.debug("library change channel failed: %s", exc)
            except Exception:  # the listener must outlive anything unforeseen
                logger.exception("library change channel failed unexpectedly")
            finally:
                self._set_subscribed(False)
                await client.aclose()
            await asyncio.sleep(_RETRY_SECONDS)

    def _heard(self, data: object) -> None:
        try:
            message = json.loads(data if isinstance(data, (bytes, str)) else b"")
            origin, library_id = str(message["origin"]), str(message["library_id"])
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed library change message")
            return
        if origin != self._origin:  # our own changes were delivered when made
            self._deliver(library_id)
