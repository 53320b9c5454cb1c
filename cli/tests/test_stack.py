"""`twinmcp up`: its children's restart backoff and the one-machine environment."""

from __future__ import annotations

from twinmcp.cli.stack import RestartPolicy, local_environment


def test_the_restart_delay_doubles_after_each_quick_failure_up_to_its_cap() -> None:
    policy = RestartPolicy(first_delay_seconds=0.5, max_delay_seconds=30)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert policy.delay(20) == 30


def test_a_one_machine_stack_keeps_the_grpc_services_on_loopback() -> None:
    env = local_environment({})
    hosts = {env[f"{name}_GRPC_HOST"] for name in ("AUTH", "SEARCH", "INGEST")}
    assert hosts == {"127.0.0.1"}
    assert local_environment({"AUTH_GRPC_HOST": "0.0.0.0"})["AUTH_GRPC_HOST"] == "0.0.0.0"
