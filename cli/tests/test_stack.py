"""Supervision of `twinmcp up`'s children: the restart backoff."""

from __future__ import annotations

from twinmcp.cli.stack import RestartPolicy


def test_the_restart_delay_doubles_after_each_quick_failure_up_to_its_cap() -> None:
    policy = RestartPolicy(first_delay_seconds=0.5, max_delay_seconds=30)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert policy.delay(20) == 30
