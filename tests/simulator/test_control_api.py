"""The control API refuses bad input without changing anything."""

from __future__ import annotations

from tests.simulator.conftest import LINKED_PHONE


def test_config_rejects_unknown_or_out_of_range_settings_and_keeps_the_old_ones(simulator):
    before = simulator.get("/_sim/config")

    for change in ({"bogus": 1}, {"read_probability": 2}, {"ack_delay_ms": -5}, {"state_file": "/tmp/x.json"}):
        status, body = simulator.request("POST", "/_sim/config", change)
        assert status == 400, change
        assert body["error"]["code"] == "bad_config"

    assert simulator.get("/_sim/config") == before


def test_config_changes_apply_and_reset_restores_the_start_up_values(simulator):
    before = simulator.get("/_sim/config")

    changed = simulator.configure(qr_refresh_s=1.5, invalid_numbers=["+44 7700 900777"])
    assert (changed["qr_refresh_s"], changed["invalid_numbers"]) == (1.5, ["447700900777"])
    simulator.post("/_sim/reset")

    assert simulator.get("/_sim/config") == before


def test_scenarios_on_an_unknown_account_are_refused(simulator):
    for path, body in (
        (f"/_sim/accounts/{LINKED_PHONE}/incoming", {"from": "447700900555", "text": "hi"}),
        (f"/_sim/accounts/{LINKED_PHONE}/unlink", {}),
        (f"/_sim/accounts/{LINKED_PHONE}/flags", {"banned": True}),
    ):
        status, response = simulator.request("POST", path, body)
        assert status == 404, path
        assert response["error"]["code"] == "account_not_found"

    assert simulator.request("GET", f"/_sim/accounts/{LINKED_PHONE}/messages")[0] == 404
    assert simulator.get("/_sim/accounts")["accounts"] == []


def test_crash_rejects_an_unknown_mode(simulator):
    status, body = simulator.request("POST", "/_sim/crash", {"mode": "explode", "target": "open"})

    assert status == 400
    assert body["error"]["code"] == "bad_crash"
