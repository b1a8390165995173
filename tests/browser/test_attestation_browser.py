"""The attestation badge and details panel in a real browser: `python main.py` whose model is the
loopback HTTPS SecretVM (its CA trusted through SECRET_AI_CA_BUNDLE, Intel's collateral from a
loopback PCCS). The app's verifier trusts Intel's root only, so the test PKI's quote fails its
signature check while the workload and the TLS key binding pass: the panel shows each check."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from playwright.async_api import expect

from secretgpt.services.attestation import spki_sha256
from tests.attestation.conftest import COMPOSE, SecretVM
from tests.attestation.pccs import LoopbackPccs
from tests.attestation.sgx_pki import TestSgxPki, registry_measurements
from tests.attestation.tls_pki import TestCA
from tests.support.app_process import AppProcess

from .conftest import API_KEY

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_header_badge_opens_the_details_panel(browser, tmp_path: Path) -> None:
    ca, pki = TestCA(), TestSgxPki()
    vm = await SecretVM(ca.issue_server(), tmp_path).start()
    vm.serve_evidence(pki.quote(spki_sha256(vm.identity.der), registry_measurements(COMPOSE)))
    with LoopbackPccs(pki.collateral()) as pccs:
        app = AppProcess(tmp_path / "data", tmp_path / "work", model_url=vm.origin, model="browser-model",
                         model_api_key=API_KEY, env={"SECRET_AI_CA_BUNDLE": str(ca.write_bundle(tmp_path / "ca.pem")),
                                                     "SECRETVM_PCCS_URL": pccs.url, "SECRET_AI_PROTOCOL": "openai"})
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        try:
            await app.start()
            page = await context.new_page()
            await page.goto(app.url)
            badge = page.locator("header .sg-attestation-badge")
            await expect(badge).to_contain_text("Attestation failed", timeout=30_000)
            await expect(badge).to_have_attribute("aria-label", "Attestation: Attestation failed (details)")
            assert "cpu_quote failed" in (await badge.get_attribute("title") or "")
            await badge.click()
            panel = page.locator(".sg-attestation-panel")
            await expect(panel).to_be_visible()
            for text in ("Model host attestation", "CPU quote", "TEE type: Intel TDX", "SecretVM template: small",
                         "This connection: matches this connection", "Check again"):
                await expect(panel).to_contain_text(text)
            assert await panel.locator(".sg-check").count() >= 5
            if os.environ.get("SECRETGPT_SCREENSHOT"):  # for a person to look at the panel
                await page.screenshot(path=os.environ["SECRETGPT_SCREENSHOT"])
        finally:
            await context.close()
            if app.running:
                with contextlib.suppress(AssertionError):
                    await app.terminate(10)
            app.cleanup()
            await vm.server.stop()
