"""The proof dialog in a real browser: one file, one verdict (the uploader's list and the verdict
agree on which file was checked), its description in plain words, and a JSON file that is not a
proof named so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from .conftest import ScriptedModel
from .test_page_chrome import ask, new_page

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def download_a_proof(page: Page, folder: Path) -> Path:
    await ask(page, "Prove this answer")
    message = page.locator(".sg-message").last
    await expect(message.locator(".sg-status")).to_have_text("Completed", timeout=15_000)
    async with page.expect_download() as download:
        await message.get_by_role("button", name="Download proof").click()
    path = folder / "intact.json"
    await (await download.value).save_as(path)
    return path


async def check(page: Page, path: Path) -> None:
    dialog = page.locator(".sg-verify-proof")
    await dialog.locator("input[type=file]").set_input_files(path)
    await expect(dialog.locator(".sg-proof-file")).to_have_text(path.name, timeout=15_000)


async def test_the_proof_dialog_one_file_one_verdict(browser: Browser, app_url: str, model: ScriptedModel,
                                                    tmp_path: Path) -> None:
    page = await new_page(browser, app_url)
    try:
        intact = await download_a_proof(page, tmp_path)
        proof = json.loads(intact.read_text(encoding="utf-8"))
        proof["proof"]["answer"]["text"] += " (edited)"
        tampered = tmp_path / "tampered.json"
        tampered.write_text(json.dumps(proof), encoding="utf-8")
        holiday = tmp_path / "holiday.json"
        holiday.write_text('{"photos": []}', encoding="utf-8")

        await page.get_by_role("button", name="Settings", exact=True).click()
        await page.get_by_role("button", name="Verify a proof").click()
        dialog = page.locator(".sg-verify-proof")
        await expect(dialog).to_contain_text("secretgpt-proof verify FILE --key FINGERPRINT")
        assert "`" not in await dialog.inner_text()

        await check(page, intact)
        verdict = dialog.locator(".sg-proof-verdict")
        await expect(verdict).to_have_text("Intact, but its evidence did not verify (exit 1)")
        await check(page, tampered)
        await expect(verdict).to_have_count(1)
        await expect(verdict).to_have_text("Tampered with or malformed (exit 2)")
        # No file in the uploader's list stands beside a verdict that is not its own (no ✓ left
        # beside the intact file while the tampered one is what failed).
        listed = await dialog.locator(".q-uploader__file").all_inner_texts()
        assert all("tampered.json" in item for item in listed), listed
        await expect(dialog.locator(".q-uploader__file")).to_have_count(0)

        await check(page, holiday)
        await expect(verdict).to_have_text("Not a SecretGPT proof file (exit 2)")
        await expect(dialog).to_contain_text("it is JSON, but not a proof; expected the file Download proof saves")
        assert "Field required" not in await dialog.inner_text()
    finally:
        await page.context.close()
