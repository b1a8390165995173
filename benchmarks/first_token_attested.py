"""Time to first token under ATTESTATION_POLICY=require, cold (the host attested before its first
prompt) and warm (already attested: only the key check at the handshake), on both model paths,
against `warn` (no check) on the same host.

    .venv/bin/python benchmarks/first_token_attested.py [--runs 7]

Everything is real but the network: the hub and the real `AsyncOpenAI` / `ChatSecret` against a
loopback HTTPS SecretVM whose evidence (a TDX quote signed by the tests' SGX PKI, with its own
collateral on a loopback PCCS) binds its TLS key. Figures are from `hub.send` to the first text
chunk, in ms: median (min–max) over the runs. Cold runs each use a fresh attestation service.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from secretgpt.config import load_settings  # noqa: E402
from secretgpt.hub.chat_hub import ChatHub  # noqa: E402
from secretgpt.records import ChunkKind  # noqa: E402
from secretgpt.services.attestation import AttestationService, AttestationSettings, EvidenceVerifier, spki_sha256  # noqa: E402
from secretgpt.services.loopback_model import Reply  # noqa: E402
from secretgpt.services.secret_ai import Catalog, ModelInfo, SecretAIService  # noqa: E402
from secretgpt.storage import SqlConversationStore, database_url  # noqa: E402
from tests.attestation.conftest import COMPOSE, SecretVM  # noqa: E402
from tests.attestation.pccs import LoopbackPccs  # noqa: E402
from tests.attestation.sgx_pki import TestSgxPki, registry_measurements  # noqa: E402
from tests.attestation.tls_pki import TestCA  # noqa: E402


class Setup:
    def __init__(self, root: Path, vm: SecretVM, pki: TestSgxPki, pccs: LoopbackPccs, ca_bundle: Path) -> None:
        self.root, self.vm, self.pki, self.pccs, self.ca_bundle = root, vm, pki, pccs, ca_bundle

    async def hub(self, protocol: str, policy: str) -> tuple[ChatHub, SecretAIService, SqlConversationStore]:
        settings = load_settings(_env_file=None, data_dir=self.root / "data", attestation_policy=policy)
        attestation = AttestationService(
            AttestationSettings(secret_ai_ca_bundle=self.ca_bundle, secretvm_pccs_url=self.pccs.url),
            verifier=EvidenceVerifier(pccs_url=self.pccs.url, root_ca_der=self.pki.root_der))
        gate = attestation.gate() if policy == "require" else None
        catalog = Catalog(models=[ModelInfo(name="loopback", url=self.vm.origin, protocol=protocol)])
        service = SecretAIService(catalog, read_timeout=30, ca_bundle=self.ca_bundle, gate=gate)
        store = await SqlConversationStore.open(database_url(self.root / f"db-{time.time_ns()}"))
        return ChatHub(settings, service, store, attestation), service, store


async def first_token(hub: ChatHub) -> float:
    started = time.perf_counter()
    stream = await hub.send("How long until the first word?", owner="bench")
    async for batch in stream.follow():
        if any(event.type is ChunkKind.TEXT for event in batch):
            elapsed = time.perf_counter() - started
            break
    else:
        raise RuntimeError(f"no text: {stream.record().error}")
    await stream.wait()
    return elapsed * 1000


async def measure(setup: Setup, protocol: str, runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"require, cold": [], "require, warm": [], "warn (no check)": []}
    for _ in range(runs):
        for label, policy, warm in (("require, cold", "require", False), ("warn (no check)", "warn", True)):
            hub, service, store = await setup.hub(protocol, policy)
            if warm:  # one answer first: connections, protocol and attestation in place
                await first_token(hub)
            figures[label].append(await first_token(hub))
            if policy == "require":
                figures["require, warm"].append(await first_token(hub))
            await hub.shutdown()
            await service.aclose()
            await store.close()
    return figures


def show(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} ms ({min(values):.1f}–{max(values):.1f})"


async def main(runs: int) -> None:
    logging.basicConfig(level=logging.WARNING, force=True)  # the SDK turns INFO on at import
    pki, ca = TestSgxPki(), TestCA()
    with tempfile.TemporaryDirectory() as tmp, LoopbackPccs(pki.collateral()) as pccs:
        root = Path(tmp)
        os.environ["SECRET_AI_API_KEY"] = "bench-key"
        identity = ca.issue_server()
        vm = await SecretVM(identity, root).start()
        vm.server.protocols = frozenset({"openai", "ollama"})
        vm.server.reply_for = lambda _r: Reply.of("The first word, then more.", tokens_per_second=None)
        vm.serve_evidence(pki.quote(spki_sha256(identity.der), registry_measurements(COMPOSE)))
        setup = Setup(root, vm, pki, pccs, ca.write_bundle(root / "ca.pem"))
        print(f"time to first token, hub.send → first text chunk, {runs} runs each (median, min–max)")
        for protocol in ("openai", "ollama"):
            figures = await measure(setup, protocol, runs)
            client = "AsyncOpenAI" if protocol == "openai" else "ChatSecret"
            for label, values in figures.items():
                print(f"  {protocol:6} ({client:11})  {label:16} {show(values)}")
        await vm.server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
