"""Who may spend the server key: the budget counts from the job store, the per-address rate,
the allow-list, and client addresses read only through trusted proxies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.admission.spend import BudgetSpent, Caller, ServerKeyGuard
from components.config import Settings
from components.edit.request import EditRequest
from components.errors import RateLimitError
from components.guard.addresses import client_address
from components.jobs.store import JobStore


def _job(store: JobStore, seconds: float, status: str, request_id: str | None, key_source: str = "server"):
    job = store.create("o" * 32, EditRequest("p", store.jobs_root / "c.mp4",
                                             extra={"billed_usd": seconds * 0.1}),
                       "fal", key_source)
    store.update(job.id, status=status, request_id=request_id)


def test_budget_counts_what_fal_charged_or_may_charge(tmp_path):
    settings = replace(Settings(), server_budget_usd_per_day=2.0, price_per_second=0.1)
    store = JobStore(tmp_path / "jobs.sqlite3")
    _job(store, 5, "succeeded", "r1")  # $0.50
    _job(store, 5, "running", None)  # in flight: counts before it costs anything
    _job(store, 5, "failed", None)  # never reached fal: free
    _job(store, 5, "cancelled", "r4")  # submitted, then cancelled: may be charged
    _job(store, 5, "succeeded", "r5", key_source="user")  # the user's money, not the owner's
    guard = ServerKeyGuard(settings, store)
    assert guard.spent_today() == pytest.approx(1.5)
    guard.admit(Caller("a" * 32, "198.51.100.1"), 0.5)  # 1.5 + 0.5 fits
    with pytest.raises(RateLimitError, match=r"daily budget .* \$1\.50 of \$2\.00 .* \$0\.60") as refused:
        guard.admit(Caller("b" * 32, "198.51.100.2"), 0.6)
    assert "your own fal key" in str(refused.value)


def test_budget_window_is_a_day(tmp_path):
    now = [1_000_000.0]
    settings = replace(Settings(), server_budget_usd_per_day=1.0, price_per_second=0.1)
    store = JobStore(tmp_path / "jobs.sqlite3")
    _job(store, 10, "succeeded", "r1")
    guard = ServerKeyGuard(settings, store, clock=lambda: now[0])
    now[0] = __import__("time").time() + 1
    assert guard.spent_today() == pytest.approx(1.0)
    now[0] += 86400
    assert guard.spent_today() == 0


def test_per_address_rate(tmp_path):
    settings = replace(Settings(), server_edits_per_ip_per_hour=2)
    guard = ServerKeyGuard(settings, JobStore(tmp_path / "jobs.sqlite3"))
    for _ in range(2):
        guard.admit(Caller("a" * 32, "198.51.100.7"), 1)
    with pytest.raises(RateLimitError, match="Your address has started 2 edits"):
        guard.admit(Caller("c" * 32, "198.51.100.7"), 1)  # a fresh session id changes nothing
    guard.admit(Caller("a" * 32, "198.51.100.8"), 1)


def test_allow_list_of_hugging_face_users(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    open_guard = ServerKeyGuard(Settings(), store)
    assert open_guard.may_use(None)
    listed = ServerKeyGuard(replace(Settings(), allowed_hf_users=("alice",)), store)
    assert listed.may_use("alice")
    assert not listed.may_use("mallory")
    assert not listed.may_use(None)


@pytest.mark.parametrize("headers, peer, expected", [
    ({}, "203.0.113.5", "203.0.113.5"),
    ({"x-forwarded-for": "1.2.3.4"}, "203.0.113.5", "203.0.113.5"),  # untrusted peer: header ignored
    ({"x-forwarded-for": "1.2.3.4"}, "10.0.0.2", "1.2.3.4"),  # the Space's proxy
    ({"x-forwarded-for": "6.6.6.6, 1.2.3.4"}, "10.0.0.2", "1.2.3.4"),  # a forged first hop is skipped
    ({"x-forwarded-for": "1.2.3.4, 10.0.0.9"}, "10.0.0.2", "1.2.3.4"),  # through two trusted proxies
])
def test_client_address_reads_only_through_trusted_proxies(headers, peer, expected):
    assert client_address(headers, peer, ("10.0.0.0/8",)) == expected


@pytest.mark.parametrize("headers, peer, expected", [
    ({}, "2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ({}, "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # the same subscriber
    ({}, "2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64 is someone else
    ({}, "::ffff:203.0.113.5", "203.0.113.5"),  # IPv4-mapped: the IPv4 client it is
    ({"x-forwarded-for": "2001:db8:9:9::7"}, "::ffff:10.0.0.2", "2001:db8:9:9::/64"),  # mapped proxy
    ({"x-forwarded-for": "::ffff:198.51.100.7"}, "10.0.0.2", "198.51.100.7"),
    ({}, "fe80::1%eth0", "fe80::/64"),
    ({}, "testclient", "testclient"),  # not an address: itself
])
def test_client_address_groups_ipv6_by_its_64(headers, peer, expected):
    assert client_address(headers, peer, ("10.0.0.0/8",)) == expected


def test_fifty_addresses_of_one_64_share_one_hourly_limit(tmp_path):
    """The issue's finding: 50 addresses of one /64 each got an edit against a limit of 2."""
    settings = replace(Settings(), server_edits_per_ip_per_hour=2)
    guard = ServerKeyGuard(settings, JobStore(tmp_path / "jobs.sqlite3"))
    admitted = 0
    for i in range(50):
        caller = Caller(f"{i:032x}", client_address({}, f"2001:db8:77:1::{i + 1:x}", ()))
        try:
            guard.admit(caller, 0.0)
            admitted += 1
        except BudgetSpent:
            pass
    assert admitted == 2


def test_settings_parse_the_spending_variables():
    s = Settings.from_env({"STUDIO_SERVER_BUDGET_USD_PER_DAY": "2.5",
                           "STUDIO_ALLOWED_HF_USERS": "Alice, @bob",
                           "STUDIO_TRUSTED_PROXIES": "10.0.0.0/8"})
    assert (s.server_budget_usd_per_day, s.allowed_hf_users, s.trusted_proxies) == (2.5, ("alice", "bob"),
                                                                                    ("10.0.0.0/8",))
    with pytest.raises(ValueError, match="STUDIO_TRUSTED_PROXIES"):
        Settings.from_env({"STUDIO_TRUSTED_PROXIES": "not-a-network"})
    assert Settings.from_env({"SPACE_ID": "me/studio"}).trusted_proxies[-1] == "192.168.0.0/16"
