"""The Store on Redis, for several tipoff processes: store.py (the store), outbox.py
(the outbox stream and its senders), sharing.py (what workers share out), scripts.py
(the Lua that decides atomically), keys.py (the key layout), encoding.py (records as
JSON), survey.py (`tipoff workers`)."""

from bot.store.redis.encoding import item_json
from bot.store.redis.keys import GROUP, TITLE_TTL, Keys
from bot.store.redis.store import RedisStore
from bot.store.redis.survey import survey

__all__ = ["GROUP", "TITLE_TTL", "Keys", "RedisStore", "item_json", "survey"]
