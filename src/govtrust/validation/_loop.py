"""One long-lived event loop for the synchronous entry points.

pyhanko-certvalidator is asynchronous. ``asyncio.run`` per call would create and tear
down an event loop (and with it every pooled HTTP connection) for each validation; a
service validating thousands of certificates a day would pay that each time. Instead
the synchronous API submits its coroutine to one daemon thread running one loop for
the life of the process, so httpx connection pools survive between validations.
Asynchronous callers (FastAPI routes) call the ``async_`` functions in their own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run", "run_inline"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_inline: asyncio.AbstractEventLoop | None = None


def run_inline() -> None:
    """From now on, run coroutines on a loop in the calling thread instead: for a
    process that runs one validation at a time (the portal's validation processes),
    where handing each one to another thread and back only costs."""
    global _inline
    _inline = asyncio.new_event_loop()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="govtrust-validation", daemon=True
            )
            thread.start()
            _loop = loop
        return _loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the shared loop and wait for its result in this thread."""
    if _inline is not None:
        return _inline.run_until_complete(coro)
    loop = _background_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError("inside the validation loop, await the async_ function instead")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()
