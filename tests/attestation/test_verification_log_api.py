"""Freshness and change through the HTTP API: `GET /api/v1/attestation` says when the evidence was
fetched and that it has no nonce, and flags a host whose measurements changed (also after the app
restarts, until `POST /api/v1/attestation/acknowledge`); `GET /api/v1/attestation/log` lists the
verification log (newest first, `origin=`) and downloads it (`format=jsonl`); all need the token."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from secretgpt.services.attestation import spki_sha256

from .attested_app import final_event
from .conftest import COMPOSE, SecretVM
from .sgx_pki import Measurements, TestSgxPki, registry_measurements


def serve(vm: SecretVM, pki: TestSgxPki, measurements: Measurements) -> None:
    vm.serve_evidence(pki.quote(spki_sha256(vm.identity.der), measurements))


async def test_the_api_says_when_the_evidence_was_fetched_and_that_it_has_no_nonce(
        app_for: Callable[..., Any], secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements) -> None:
    async with app_for() as app:
        await final_event(app)  # its attestation found no evidence
        [host] = await app.hosts()
        assert host["status"] == "unverified" and host["freshness"] is None  # nothing was fetched
        serve(secretvm, sgx_pki, measurements)
        await app.hub.attestation.check_again(secretvm.origin)
        [host] = await app.hosts()
    assert host["status"] == "verified", host["reason"]
    freshness = host["freshness"]
    assert freshness["nonce"] is False
    assert "no nonce" in freshness["note"] and "when it booted" in freshness["note"]
    assert "not that it was produced for this request" in freshness["note"]
    fetched, checked = datetime.fromisoformat(freshness["fetched_at"]), datetime.fromisoformat(host["checked_at"])
    assert fetched <= checked and (checked - fetched).total_seconds() < 60
    assert host["changes"] == [] and host["changed_at"] is None


async def test_a_changed_vm_is_flagged_after_a_restart_until_acknowledged(
        app_for: Callable[..., Any], secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements) -> None:
    serve(secretvm, sgx_pki, measurements)
    async with app_for() as app:
        await final_event(app)
        [host] = await app.hosts()
        assert host["status"] == "verified" and host["changes"] == []
        assert len((await app.client.get("/api/v1/attestation/log")).json()) == 1

    other = registry_measurements(COMPOSE, other_mrtd_than=measurements.mr_td)
    serve(secretvm, sgx_pki, other)
    async with app_for() as app:  # the app restarted: a new service, the same data dir
        await final_event(app)
        [host] = await app.hosts()
        assert host["status"] == "verified", host["reason"]
        changes = {c["field"]: c for c in host["changes"]}
        assert changes["mr_td"]["label"] == "MRTD"
        assert (changes["mr_td"]["old"], changes["mr_td"]["new"]) == (measurements.mr_td.hex(), other.mr_td.hex())
        assert host["changed_at"] is not None

        entries = (await app.client.get("/api/v1/attestation/log")).json()
        assert [e["kind"] for e in entries] == ["verified", "verified"]
        assert entries[0]["measurements"]["mr_td"] == other.mr_td.hex()  # newest first
        assert entries[1]["measurements"]["mr_td"] == measurements.mr_td.hex() and entries[1]["changes"] == []
        mine = (await app.client.get("/api/v1/attestation/log", params={"origin": secretvm.origin})).json()
        assert mine == entries
        assert (await app.client.get("/api/v1/attestation/log", params={"origin": "https://elsewhere:1"})).json() == []

        download = await app.client.get("/api/v1/attestation/log", params={"format": "jsonl"})
        assert download.status_code == 200 and download.headers["content-type"] == "application/x-ndjson"
        assert 'filename="attestation-log.jsonl"' in download.headers["content-disposition"]
        assert [json.loads(line) for line in download.text.splitlines()] == entries[::-1]  # as kept: oldest first

        noted = await app.client.post("/api/v1/attestation/acknowledge", json={"origin": secretvm.origin})
        assert noted.status_code == 200, noted.text
        assert noted.json()["changes"] == []

    async with app_for() as app:  # noted stays noted
        await final_event(app)
        [host] = await app.hosts()
        assert host["status"] == "verified" and host["changes"] == []
        kinds = [e["kind"] for e in (await app.client.get("/api/v1/attestation/log")).json()]
        assert kinds == ["acknowledged", "verified", "verified"]


async def test_the_log_routes_need_the_token(app_for: Callable[..., Any]) -> None:
    async with app_for() as app:
        async with httpx.AsyncClient(base_url=str(app.client.base_url)) as anonymous:
            for response in (await anonymous.get("/api/v1/attestation/log"),
                             await anonymous.get("/api/v1/attestation/log", params={"format": "jsonl"}),
                             await anonymous.post("/api/v1/attestation/acknowledge",
                                                  json={"origin": app.vm.origin})):
                assert response.status_code == 401
                assert response.json()["detail"]["kind"] == "unauthorized"
        assert (await app.client.get("/api/v1/attestation/log")).json() == []
        unknown = await app.client.post("/api/v1/attestation/acknowledge", json={"origin": "https://elsewhere:1"})
        assert unknown.status_code == 404 and unknown.json()["detail"]["kind"] == "not_found"
        bad = await app.client.get("/api/v1/attestation/log", params={"format": "xml"})
        assert bad.status_code == 422
