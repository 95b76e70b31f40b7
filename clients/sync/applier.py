"""What the mirror does with the next blocks from the stream.

For each block, in order, against the head of the mirror:

| the block | action |
|---|---|
| follows the head (previous id = head id) | append it |
| is already in the mirror (same id at that number) | skip it: a catch-up may repeat blocks |
| has a parent in the mirror that is not the head | a branch switch: roll back to the parent (the common ancestor), append it |
| is a block 0 other than the mirror's | another chain: roll everything back, append it |
| has no parent in the mirror | `Gap`: the caller subscribes again from the mirror's blocks |

The blocks handed to one `apply` call are written in one database
transaction; a `Gap` commits the blocks before it, then raises.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from sawgrid.clients.sync.database import Database, Head
from sawgrid.clients.sync.subscriber import BlockEvents

LOG = logging.getLogger("sawgrid.sync.applier")


class Gap(Exception):
    """A block whose parent the mirror does not have. `applied`: what the
    same call wrote (and committed) before it."""

    applied: "Applied | None" = None


@dataclass
class Applied:
    """What one `apply` call did."""

    appended: int = 0
    skipped: int = 0
    rolled_back: int = 0     # blocks dropped by branch switches
    rows: int = 0
    head: int | None = None  # the mirror's head block number afterwards


class Applier:
    """Applies blocks to a `Database`. `pause_before_commit(block_num)` is a
    test hook, called after the rows are written and before they commit."""

    def __init__(self, db: Database, pause_before_commit: Callable[[int], None] | None = None) -> None:
        self.db = db
        self._pause = pause_before_commit

    def apply(self, blocks: Sequence[BlockEvents]) -> Applied:
        done = Applied()
        gap: Gap | None = None
        with self.db.writer() as w:
            head = w.head()
            for block in blocks:
                try:
                    head = self._one(w, head, block, done)
                except Gap as err:
                    gap = err
                    break
            done.rows = w.rows
            done.head = head.block_num if head else None
            if self._pause is not None and done.appended:
                self._pause(head.block_num if head else -1)
        if gap is not None:
            gap.applied = done
            raise gap
        return done

    def _one(self, w, head: Head | None, block: BlockEvents, done: Applied) -> Head:
        new_head = Head(block.block_num, block.block_id)
        if head is not None and block.previous_block_id == head.block_id and block.block_num == head.block_num + 1:
            w.append(block)
            done.appended += 1
            return new_head
        if head is None:
            if block.block_num != 0:
                raise Gap(f"block {block.block_num} arrived first; the mirror is empty and starts at block 0")
            w.append(block)
            done.appended += 1
            return new_head
        if w.block_id_at(block.block_num) == block.block_id:
            done.skipped += 1
            return head
        if block.block_num == 0:
            LOG.warning("block 0 is %s, not the mirror's: another chain; the whole mirror is rolled back",
                        block.block_id[:16])
            parent = -1
        else:
            parent = w.block_num_of(block.previous_block_id)
            if parent is None or parent != block.block_num - 1:
                raise Gap(f"block {block.block_num} ({block.block_id[:16]}) follows "
                          f"{block.previous_block_id[:16]}, which the mirror does not have")
        if parent < head.block_num:
            dropped = w.rollback(parent)
            done.rolled_back += dropped
            LOG.warning("branch switch at block %d: rolled back %d block(s) to block %d (%s)",
                        block.block_num, dropped, parent, block.previous_block_id[:16] if parent >= 0 else "none")
        w.append(block)
        done.appended += 1
        return new_head


def pause_hook(seconds: float) -> Callable[[int], None]:
    """The test hook behind `sawgrid sync --test-pause-in-block`: log, then sleep
    with the block's rows written but not committed (a kill -9 lands mid-block)."""
    def pause(block_num: int) -> None:
        LOG.warning("test pause: block %d written, not committed; sleeping %.1f s", block_num, seconds)
        time.sleep(seconds)

    return pause
