"""Settings parsing: bad values stop start-up with the variable's name."""

import pytest
from twinmcp.runtime.settings import (
    Secret,
    SettingsError,
    env_address,
    env_int,
    env_port,
    env_str,
    env_url,
)


def test_a_missing_required_variable_is_named_in_the_error() -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        env_str({}, "JWT_SECRET")


def test_a_port_out_of_range_is_refused_with_its_name() -> None:
    with pytest.raises(SettingsError, match="PORT=70000"):
        env_port({"PORT": "70000"}, "PORT", 3000)


def test_a_non_numeric_integer_is_refused_with_its_name() -> None:
    with pytest.raises(SettingsError, match="RATE_LIMIT_FREE_RPM"):
        env_int({"RATE_LIMIT_FREE_RPM": "lots"}, "RATE_LIMIT_FREE_RPM", 100)


def test_an_unparsable_url_is_refused_with_its_name() -> None:
    with pytest.raises(SettingsError, match="REDIS_URL"):
        env_url({"REDIS_URL": "redis://host:99999"}, "REDIS_URL", schemes=("redis",))
    with pytest.raises(SettingsError, match="REDIS_URL"):
        env_url({"REDIS_URL": "http://host"}, "REDIS_URL", schemes=("redis", "rediss"))


def test_a_grpc_address_must_have_a_port() -> None:
    assert env_address({}, "SEARCH_ADDR", "127.0.0.1:50052") == "127.0.0.1:50052"
    assert env_address({"X": "dns:///search:50052"}, "X", "a:1") == "dns:///search:50052"
    with pytest.raises(SettingsError, match="SEARCH_ADDR"):
        env_address({"SEARCH_ADDR": "search"}, "SEARCH_ADDR", "127.0.0.1:50052")


def test_a_multi_address_grpc_target_is_accepted_only_when_every_address_has_a_port() -> None:
    for good in (
        "ipv4:127.0.0.1:50052,127.0.0.1:50062",
        "ipv4:127.0.0.1:50052",
        "ipv6:[::1]:50052,[::1]:50062",
    ):
        assert env_address({"SEARCH_ADDR": good}, "SEARCH_ADDR", "a:1") == good
    for bad in (
        "ipv4:127.0.0.1:x,127.0.0.1:50062",
        "ipv4:127.0.0.1:50052,127.0.0.1",
        "ipv4:127.0.0.1:50052,",
        "ipv6:[::1]:50052,[::1]",
    ):
        with pytest.raises(SettingsError, match="SEARCH_ADDR"):
            env_address({"SEARCH_ADDR": bad}, "SEARCH_ADDR", "a:1")


def test_secrets_never_show_in_reprs() -> None:
    secret = Secret("sk-very-secret")
    assert "sk-very-secret" not in repr(secret)
    assert "sk-very-secret" not in f"{secret}"
    assert secret.get() == "sk-very-secret"
