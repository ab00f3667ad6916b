"""A probe made through the API starts from the command the API gives, shows as live,
and is cut off as soon as the API revokes it."""

from __future__ import annotations

import shlex

from picket.testing import Stack, wait_for


def test_probe_created_listed_and_revoked_through_the_api(stack: Stack) -> None:
    stack.start_collector()
    stack.start_api()
    with stack.api() as client:
        created = client.post("/probes", json={"name": "edge-1", "region": "eu-west"})
        assert created.status_code == 201, created.text
        probe = created.json()
        *assignments, program, role = shlex.split(probe["command"])
        assert (program, role) == ("picket", "probe")
        env = dict(item.split("=", 1) for item in assignments)
        assert env["PICKET_PROBE_TOKEN"] == probe["token"]
        assert env["PICKET_COLLECTOR_ADDR"] == stack.collector_addr
        child, _ = stack.start_probe("eu-west", token=env["PICKET_PROBE_TOKEN"], **env)

        def status() -> str:
            response = client.get(f"/probes/{probe['id']}")
            assert response.status_code == 200, response.text
            return response.json()["status"]

        wait_for(lambda: status() == "live", timeout=30, message="the probe to show as live")
        listed = client.get("/probes", params={"region": "eu-west"}).json()["data"]
        assert [(p["id"], p["version"] is not None) for p in listed] == [(probe["id"], True)]

        assert client.delete(f"/probes/{probe['id']}").status_code == 204
        wait_for(
            lambda: "collector refused this probe's token" in child.log_text(),
            timeout=30,
            message="the revoked probe to be cut off",
        )
        assert status() == "revoked"
