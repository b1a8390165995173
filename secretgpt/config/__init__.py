from .settings import ConfigError, Settings, TypingSpeed, load_settings

__all__ = ["ConfigError", "Settings", "TypingSpeed", "load_settings"]
