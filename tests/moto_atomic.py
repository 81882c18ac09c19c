"""Make moto's DynamoDB write each item atomically, as DynamoDB does; run as a moto server too.

DynamoDB applies every single-item write (``PutItem``, ``UpdateItem``,
``DeleteItem``, with or without a ``ConditionExpression``) and every
transaction atomically: a condition is checked and the write made as one
step. Moto evaluates the condition and then changes the item in plain Python
with no lock, so two threads can both pass a condition that only one should.
Tests that rely on the guarantee (parallel sign-in attempts) would then fail
for moto's sake, not ours. ``make_writes_atomic`` serialises moto's DynamoDB
writes with one lock: stricter than DynamoDB (which serialises per item),
never looser.

Run as a script (``python tests/moto_atomic.py -H 127.0.0.1 -p PORT``) it
starts ``moto.server`` with the same lock in place.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()
WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


def make_writes_atomic() -> None:
    """Wrap moto's DynamoDB write methods in one lock (once per process)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in WRITES:
        method: Callable[..., Any] = getattr(DynamoDBBackend, name)
        if getattr(method, "_atomic", False):
            continue

        def locked(*args: Any, __method: Callable[..., Any] = method, **kwargs: Any) -> Any:
            with _LOCK:
                return __method(*args, **kwargs)

        wrapped = functools.wraps(method)(locked)
        wrapped._atomic = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, wrapped)


if __name__ == "__main__":
    make_writes_atomic()
    from moto.server import main

    main()
