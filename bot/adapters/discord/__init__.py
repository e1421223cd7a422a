"""Discord: adapter.py (alerts out, the parts started and stopped), slash.py (`/tipoff …`
commands and buttons in), shards.py (gateway connections, IDENTIFY pacing, shards
shared out between workers)."""

from bot.adapters.discord.adapter import DiscordAdapter, nonce_for
from bot.adapters.discord.shards import share_shards

__all__ = ["DiscordAdapter", "nonce_for", "share_shards"]
