"""SecretGPT: a local web app for streaming chats with Secret AI's confidential LLMs."""

__version__ = "0.1.0"
