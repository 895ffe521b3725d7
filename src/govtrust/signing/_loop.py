"""One event loop per thread for the synchronous signing entry points.

pyHanko's signing API is asynchronous. ``asyncio.run`` per signature creates and tears
down an event loop each time: about 0.25 ms, 5% of a PAdES B-B signature once the CMS
is encoded by hand (``govtrust.signing._cms_out``). Each thread keeps its own loop
instead (not one shared loop, as ``govtrust.validation._loop`` does: a signature's
time-stamp transport blocks, and signatures made in several threads must not wait for
each other's). The loop is closed when its thread ends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


class _ThreadLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:  # the thread's locals are dropped when it ends
        self.loop.close()


_local = threading.local()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on this thread's loop (as ``asyncio.run`` would, and
    like it refused inside a running loop)."""
    holder: _ThreadLoop | None = getattr(_local, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _ThreadLoop()
        _local.holder = holder
    return holder.loop.run_until_complete(coro)
