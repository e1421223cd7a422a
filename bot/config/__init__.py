"""The configuration: settings.py (the records the rest of tipoff reads), load.py (TOML +
environment → Settings, validated once), reader.py (errors with file, line and key)."""

from bot.config.load import load_settings
from bot.config.reader import locate
from bot.model import feed_id_for, watch_id_for  # the domain's ids; imported from here by older code
from bot.config.settings import (
    CONSOLE,
    DESTINATION_KINDS,
    ConfigError,
    DeliverySettings,
    DiscordSettings,
    FetchSettings,
    HttpSettings,
    LimitSettings,
    PollSettings,
    Secret,
    Settings,
    StorySettings,
    TelegramSettings,
    WebSubSettings,
    parse_duration,
    parse_rate,
    redact_url,
    secrets_of,
)

__all__ = ["CONSOLE", "DESTINATION_KINDS", "ConfigError", "DeliverySettings", "DiscordSettings", "FetchSettings",
           "HttpSettings", "LimitSettings", "PollSettings", "Secret", "Settings", "StorySettings", "TelegramSettings",
           "WebSubSettings", "feed_id_for", "load_settings", "locate", "parse_duration", "parse_rate", "redact_url", "secrets_of",
           "watch_id_for"]
