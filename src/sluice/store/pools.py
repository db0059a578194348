"""Pools: named numbers of slots that limit how many task instances run at once.

A task instance takes ``pool_slots`` slots of its pool from the moment it is queued until
it finishes, as in Airflow; ``scheduled`` instances are waiting for a slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sluice.core.errors import StoreError
from sluice.core.states import TaskInstanceState
from sluice.core.suggestions import unknown_id_message
from sluice.store.tables import Pool, TaskInstance

S = TaskInstanceState
DEFAULT_POOL = "default_pool"
"""The pool of every task that names none; created with the schema, never deleted."""
DEFAULT_POOL_SLOTS = 128
NAME_PATTERN = re.compile(r"[\w.-]+", re.ASCII)
"""Pool names as Airflow's keys: letters, digits, ``_``, ``.`` and ``-``."""
NAME_LENGTH = 256


@dataclass(frozen=True)
class PoolUsage:
    """A pool and the slots its task instances take (sums of their ``pool_slots``)."""

    name: str
    slots: int
    description: str | None
    running: int
    queued: int
    scheduled: int
    """Slots wanted by instances that wait for a free slot."""

    @property
    def occupied(self) -> int:
        """Slots taken by queued and running instances."""
        return self.running + self.queued

    @property
    def open(self) -> int:
        """Slots free now (negative when the pool was shrunk below what it runs)."""
        return self.slots - self.occupied


def set_pool(session: Session, name: str, slots: int, description: str | None = None) -> Pool:
    """Create a pool or change its slots (and its description, when one is given)."""
    check_name(name)
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 0:
        raise StoreError(f"pool '{name}': slots must be a whole number of 0 or more, not {slots!r}")
    pool = session.scalars(select(Pool).where(Pool.pool == name).with_for_update()).one_or_none()
    if pool is None:
        pool = Pool(pool=name, slots=slots, description=description)
        session.add(pool)
    else:
        pool.slots = slots
        if description is not None:
            pool.description = description
    session.flush()
    return pool


def get_pool(session: Session, name: str) -> PoolUsage | None:
    """One pool with its usage, or None if there is no such pool."""
    pool = session.scalars(select(Pool).where(Pool.pool == name)).one_or_none()
    return None if pool is None else _usage(pool, _slots_by_state(session, [name]))


def list_pools(session: Session) -> list[PoolUsage]:
    """Every pool with its usage, by name."""
    pools = list(session.scalars(select(Pool).order_by(Pool.pool)))
    taken = _slots_by_state(session, None)
    return [_usage(pool, taken) for pool in pools]


def open_slots(session: Session) -> dict[str, int]:
    """Free slots per pool name (what the scheduler may still queue into each pool)."""
    return {usage.name: usage.open for usage in list_pools(session)}


def delete_pool(session: Session, name: str) -> None:
    """Delete a pool; refused for default_pool, a missing pool and a pool in use."""
    if name == DEFAULT_POOL:
        raise StoreError(f"{DEFAULT_POOL} cannot be deleted; change its slots with `pools set`")
    # The row lock keeps a scheduler from queuing into the pool while we look.
    pool = session.scalars(select(Pool).where(Pool.pool == name).with_for_update()).one_or_none()
    if pool is None:
        names = session.scalars(select(Pool.pool))
        raise StoreError(unknown_id_message("Pool", name, names))
    busy = session.scalar(
        select(func.count())
        .select_from(TaskInstance)
        .where(TaskInstance.pool == name, TaskInstance.state.in_([S.QUEUED, S.RUNNING]))
    )
    if busy:
        noun = "task instance is" if busy == 1 else "task instances are"
        raise StoreError(
            f"pool '{name}' is in use: {busy} {noun} queued or running in it; delete it once "
            "they finish, or set its slots to 0 to stop new ones"
        )
    session.delete(pool)
    session.flush()


def check_name(name: str) -> None:
    """Raise StoreError unless ``name`` can name a pool."""
    if not name:
        raise StoreError("a pool name cannot be empty")
    if len(name) > NAME_LENGTH:
        raise StoreError(f"pool name is {len(name)} characters long; the most is {NAME_LENGTH}")
    if not NAME_PATTERN.fullmatch(name):
        raise StoreError(f"pool name {name!r} may hold only letters, digits, '_', '.' and '-'")


_Taken = dict[tuple[str, str], int]


def _slots_by_state(session: Session, names: list[str] | None) -> _Taken:
    query = (
        select(TaskInstance.pool, TaskInstance.state, func.sum(TaskInstance.pool_slots))
        .where(TaskInstance.state.in_([S.RUNNING, S.QUEUED, S.SCHEDULED]))
        .group_by(TaskInstance.pool, TaskInstance.state)
    )
    if names is not None:
        query = query.where(TaskInstance.pool.in_(names))
    return {(pool, str(state)): int(total or 0) for pool, state, total in session.execute(query)}


def _usage(pool: Pool, taken: _Taken) -> PoolUsage:
    return PoolUsage(
        name=pool.pool,
        slots=pool.slots,
        description=pool.description,
        running=taken.get((pool.pool, S.RUNNING.value), 0),
        queued=taken.get((pool.pool, S.QUEUED.value), 0),
        scheduled=taken.get((pool.pool, S.SCHEDULED.value), 0),
    )
