"""The models the app can use: where each is served and which API its server speaks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# The two APIs a model server may speak: OpenAI-compatible chat completions (Secret AI's vLLM
# behind LiteLLM today) or Ollama's /api/chat (ChatSecret).
ModelApi = Literal["openai", "ollama"]


class ModelInfo(BaseModel):
    name: str
    url: str
    demo: bool = False
    # None: not known yet; asked of the server (SECRET_AI_PROTOCOL=auto) on first use.
    protocol: ModelApi | None = None
    # Whether it can see images: from discovery where the server says (Ollama's /api/show
    # capabilities); None: judged by its name (attachments.can_see_images).
    vision: bool | None = None


class Catalog(BaseModel):
    """The models the app can use, or why there are none."""

    models: list[ModelInfo] = Field(default_factory=list)
    error: str | None = None
    demo: bool = False

    def find(self, name: str | None) -> ModelInfo | None:
        if not self.models:
            return None
        if name is None:
            return self.models[0]
        return next((m for m in self.models if m.name == name), None)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]
