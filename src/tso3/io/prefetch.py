"""Read the next block of a file while the current one is being worked on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Data = TypeVar("Data")


def read_ahead(read: Callable[[Item], Data], items: Iterable[Item]) -> Iterator[tuple[Item, Data]]:
    """Yield ``(item, read(item))`` in order, reading one item ahead in a thread.

    File reads release the GIL, so the reading of block ``i + 1`` overlaps the numpy
    work on block ``i``; memory holds at most two blocks.  ``read`` runs only in the
    reader thread, one call at a time.

    Parameters
    ----------
    read : callable
        Reads one item, e.g. a ``(start, stop)`` range of integrations.
    items : iterable
        What to read, in order.

    Yields
    ------
    tuple
        Each item with what ``read`` returned for it.  An exception raised by ``read``
        is raised here, at that item.
    """
    todo = list(items)
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tso3-read") as reader:
        pending = reader.submit(read, todo[0])
        for index, item in enumerate(todo):
            data = pending.result()
            if index + 1 < len(todo):
                pending = reader.submit(read, todo[index + 1])
            yield item, data
