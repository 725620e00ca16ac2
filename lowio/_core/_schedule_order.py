"""The order in which the scheduler steps a batch of runnable tasks: not
promised.

Tasks that become runnable before the same batch (spawned by
``start_soon``, woken together by ``Event.set`` or ``ParkingLot.unpark_all``,
back from a checkpoint) run in the order they were woken or, for half of the
batches of two or more tasks, backwards.  As in trio, no order between tasks
of one batch is part of the contract; flipping it at random makes code (and
tests) that rely on one fail early instead of on another implementation or
a later version.  What *is* promised is unchanged: a task woken in one batch
runs before a task woken in a later one, and a ``ParkingLot`` (hence
``Lock``, ``Semaphore``, ``Condition``, the memory channels) hands off to its
waiters in the order they parked.

The coin is ``SCHEDULING_RNG``, one ``random.Random`` for the process, drawn
once per batch of two or more tasks (``getrandbits(1)``).  Seed it
(``SCHEDULING_RNG.seed(n)``) to make the order reproducible: the same
program with the same seed and the same I/O timings steps its tasks in the
same order.  lowio's own test suite seeds it before every test (see its
``tests/conftest.py``: ``LOWIO_SCHEDULING_SEED``), and importing Hypothesis
registers it with ``hypothesis.register_random`` (the ``hypothesis`` entry
point below), so each example replays the same schedule and shrinks.
"""

from __future__ import annotations

import random

SCHEDULING_RNG = random.Random()


def hypothesis_plugin_setup() -> None:
    """Hypothesis's plugin hook for lowio (the ``hypothesis`` entry point):
    Hypothesis then seeds ``SCHEDULING_RNG`` for each example and restores
    it afterwards, so the scheduling order of an example is reproducible.
    Called by Hypothesis when it is imported; needs no running lowio."""
    from hypothesis import register_random

    register_random(SCHEDULING_RNG)
