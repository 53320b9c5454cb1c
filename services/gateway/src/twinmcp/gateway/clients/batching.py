"""Calls made in the same event-loop turn, sent to a peer together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """`submit` waits for `send`'s answer to its item; the items submitted in one event-loop
    turn reach `send` in one list, and a lone item waits for nothing.

    `send` answers one result per item, in order. An error it raises reaches every caller of
    its batch. A caller that stops waiting does not take its item out of the batch.
    """

    def __init__(self, send: Callable[[list[Item]], Awaitable[list[Result]]]) -> None:
        self._send = send
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Result] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((item, reply))
        return await reply

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._deliver(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._send([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(batch)} items sent, {len(results)} results answered")
        except Exception as error:  # noqa: BLE001 - handed to every caller of the batch
            for _item, reply in batch:
                if not reply.done():
                    reply.set_exception(error)
            return
        for (_item, reply), result in zip(batch, results, strict=True):
            if not reply.done():
                reply.set_result(result)
