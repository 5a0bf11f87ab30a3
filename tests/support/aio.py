"""Run a coroutine to completion from a sync test.

pytest-playwright's sync API keeps an event loop running on the main thread for the rest of the
session, so `asyncio.run` there fails depending on test order; a worker thread has no loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
