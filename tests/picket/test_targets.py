from __future__ import annotations

import pytest

from picket.targets import TargetError, resolve_screened, screen_address, screen_monitor_target


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "fe80::1",
        "100.100.100.200",
        "0.0.0.0",
        "::",
        "224.0.0.1",
    ],
)
def test_never_allowed(address: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(TargetError, match="never checked"):
            screen_address(address, allow_private=allow_private)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "::1", "fd12::1"])
def test_private_only_when_allowed(address: str) -> None:
    with pytest.raises(TargetError, match="PICKET_ALLOW_PRIVATE_TARGETS"):
        screen_address(address, allow_private=False)
    screen_address(address, allow_private=True)


def test_public_addresses_pass() -> None:
    screen_address("93.184.216.34", allow_private=False)
    screen_address("2606:4700::1111", allow_private=False)


async def test_resolution_screens_every_address() -> None:
    addresses = await resolve_screened("localhost", 80, allow_private=True)
    assert "127.0.0.1" in addresses
    with pytest.raises(TargetError, match="localhost resolves to a refused address"):
        await resolve_screened("localhost", 80, allow_private=False)
    with pytest.raises(TargetError, match="never checked"):
        await resolve_screened("metadata.google.internal", 80, allow_private=True)


def test_heartbeat_has_no_target_and_templated_step_hosts_wait_for_run_time() -> None:
    screen_monitor_target("heartbeat", "", allow_private=False)
    steps = {"steps": [{"url": "https://{{host}}/x"}]}
    screen_monitor_target("api", "", allow_private=False, settings=steps)
