"""Everything the interfaces need, built once from settings: the model service, the demo model,
storage and the `ChatHub` over them. `start()` builds the hub; nothing is served before it has."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import timedelta

from ..config import Settings
from ..metrics import HubMetrics
from ..services.attestation import AttestationService
from ..services.redis_bus import RedisBus
from ..services.loopback_model import LoopbackModelServer, demo_reply
from ..services.secret_ai import (
    Catalog, ModelInfo, ProtocolDetector, SecretAIService, demo_chat_model, demo_openai_client, discover_until_found,
    secret_chat_model, secret_openai_client,
)
from ..services.secret_ai.protocol import API_KEY_ENV
from ..storage import SqlConversationStore, database_url
from ..storage.failures import failure_reason
from ..hub.chat_hub import ChatHub

log = logging.getLogger(__name__)

DEMO_MODEL = "secretgpt-demo"
# How long a shutdown waits for the answers it interrupts to be saved. Each normally takes
# milliseconds; a bound keeps one that cannot end (a bug, a database that stopped answering) from
# holding the process, and a test's app, for good.
SHUTDOWN_WAIT = 20.0
# With several instances, an answer written this recently may be another instance's, just started.
LIVE_WITHIN = timedelta(seconds=30)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api_token = settings.resolved_api_token()
        read_timeout = max(settings.stream_first_token_timeout, settings.stream_idle_timeout) + 5
        if settings.secret_ai_api_key is not None and not os.environ.get(API_KEY_ENV):
            # A key given only in .env: both clients read it from the environment.
            os.environ[API_KEY_ENV] = settings.secret_ai_api_key.get_secret_value()
        factory = demo_chat_model if settings.demo_mode else secret_chat_model
        openai_factory = demo_openai_client if settings.demo_mode else secret_openai_client
        # The demo server answers like a Secret AI host today (OpenAI-compatible only); `auto` finds
        # it as it finds a real host.
        self.attestation = AttestationService(settings.attestation)
        # Under `require` every connection that carries something to a model host (the model list,
        # the protocol probe, each answer) has its key checked at the handshake; under `warn`, none.
        gate = self.attestation.gate() if settings.attestation_policy == "require" else None
        self.detector = ProtocolDetector(settings.secret_ai_protocol, ca_bundle=settings.secret_ai_ca_bundle,
                                         gate=gate)
        self.service = SecretAIService(Catalog(error="Looking for models…"), factory, read_timeout,
                                       openai_factory=openai_factory, detector=self.detector,
                                       ca_bundle=settings.secret_ai_ca_bundle, gate=gate)
        self._store: SqlConversationStore | None = None
        self.demo_server: LoopbackModelServer | None = None
        self._discovery: asyncio.Task | None = None
        self._hub: ChatHub | None = None
        # This instance's own counts (GET /metrics): each instance of a team serves its own.
        self.metrics = HubMetrics()

    @property
    def demo(self) -> bool:
        return self.settings.demo_mode

    async def start(self) -> ChatHub:
        """Open storage, start the demo model or discovery, and build the hub over them."""
        url = database_url(self.settings.ensure_data_dir(), self.settings.database_url)
        try:
            self._store = store = await SqlConversationStore.open(url)
        except Exception as exc:
            # main.py checked storage just before; if it fails anyway, do not serve without it.
            log.critical("SecretGPT cannot open its conversation storage (%s); stopping. Check SECRETGPT_DATA_DIR / "
                         "SECRETGPT_DATABASE_URL.", failure_reason(exc))
            raise
        bus = RedisBus(self.settings.redis_url, retention=self.settings.stream_retention) \
            if self.settings.redis_url else None
        if bus is None:
            interrupted = await store.mark_interrupted()
        else:
            # Other instances' answers in progress are live in the directory; one that started just
            # now may not be yet, but it was written in the last seconds.
            interrupted = await store.mark_interrupted(keep=await bus.live_ids(), stale_for=LIVE_WITHIN)
        if interrupted:
            log.info("%d answer(s) were cut off by the last shutdown; marked interrupted", interrupted)
        if self.demo:
            pace = self.settings.demo_tokens_per_second
            url = self.settings.local_url
            self.demo_server = await LoopbackModelServer(lambda request: demo_reply(request, pace, url),
                                                         models=[DEMO_MODEL], protocols=("openai",)).start()
            self.service.catalog = Catalog(
                models=[ModelInfo(name=DEMO_MODEL, url=self.demo_server.url, demo=True, vision=True)], demo=True)
            log.info("no SECRET_AI_API_KEY: using the offline demo model")
        else:
            self._discovery = asyncio.create_task(self.discover())
        self._hub = ChatHub(self.settings, self.service, store, self.attestation, bus=bus, observer=self.metrics)
        await self._hub.start()
        return self._hub

    async def discover(self) -> Catalog:
        """Find the models; while there are none, keep looking in the background (the catalog
        says what was tried), so a model host that starts after the app is found."""
        s = self.settings
        api_key = s.secret_ai_api_key.get_secret_value() if s.secret_ai_api_key else None
        catalog = await discover_until_found(s.secret_ai_url, s.secret_ai_model, api_key, self.detector,
                                             self._publish)
        log.info("models available: %s", ", ".join(catalog.names))
        await self.service.prepare()  # the default model's client, before the first answer waits for it
        return catalog

    def _publish(self, catalog: Catalog) -> None:
        # Replaced whole, never changed in place: the page and the API read `hub.catalog` afresh.
        self.service.catalog = catalog
        if catalog.models and not catalog.models[0].demo:
            # The default model's host, attested now so the first prompt rarely waits for it.
            self.attestation.observe(catalog.models[0].url)

    async def stop(self) -> None:
        if self._discovery is not None:
            self._discovery.cancel()
        if self._hub is not None:
            try:
                async with asyncio.timeout(SHUTDOWN_WAIT):
                    await self._hub.shutdown()
            except TimeoutError:
                unsaved = [s.id for s in await self._hub.active_streams()]
                log.error("shutdown: answers still not saved after %g s (streams %s); stopping without them",
                          SHUTDOWN_WAIT, ", ".join(unsaved) or "none active")
        await self.service.aclose()
        if self.demo_server is not None:
            await self.demo_server.stop()
        if self._store is not None:
            await self._store.close()
