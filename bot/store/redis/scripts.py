"""The Lua scripts of the Redis store: what must be decided atomically between workers
(claims with queueing, feed leases, per-chat senders, hand-overs, names, locks). Each
script says its KEYS and ARGV; bot/store/redis/store.py calls them."""

# KEYS: the claim's story keys, then outbox:items, outbox, queue:{dest}. ARGV: ttl per
# story key (same order), then item id, item JSON, destination, stamp. Returns the stream
# entry id when claimed and queued, 0 when any key was already there (another worker, or
# an earlier cycle, announced the story). Without story keys it only queues (a notice).
CLAIM_AND_QUEUE = """
local n = #KEYS - 3
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[#ARGV], 'EX', ARGV[i])
end
redis.call('HSET', KEYS[n + 1], ARGV[n + 1], ARGV[n + 2])
local entry = redis.call('XADD', KEYS[n + 2], '*', 'id', ARGV[n + 1], 'dest', ARGV[n + 3])
redis.call('RPUSH', KEYS[n + 3], entry)
return entry
"""

# KEYS[1]: the outbox stream, KEYS[2]: meta. ARGV[1]: the key prefix. Builds each destination's queue (`queue:{dest}`, its stream
# entries not yet acknowledged, in stream order) from the stream, once: stores written
# before the queues existed.
BUILD_QUEUES = """
if redis.call('HGET', KEYS[2], 'queues') == '1' then return 0 end
local rows = redis.call('XRANGE', KEYS[1], '-', '+')
for _, row in ipairs(rows) do
  local fields = row[2]
  for j = 1, #fields, 2 do
    if fields[j] == 'dest' then redis.call('RPUSH', ARGV[1] .. 'queue:' .. fields[j + 1], row[1]) end
  end
end
redis.call('HSET', KEYS[2], 'queues', '1')
return #rows
"""

# KEYS[1]: this worker's name key (`alive:{worker}`), KEYS[2]: the set of worker names.
# ARGV: this process's token, lease ms, whether to take the name (1) or only renew it (0),
# the prefix of name keys.
# A worker's name is its consumer in the outbox group: two live processes under one name
# would each read the other's alerts as their own and send them twice. So a process takes
# its name only when no live process holds it, and keeps it by renewing; 1 when it holds it.
HOLD_NAME = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or (not holder and ARGV[3] == '1') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', KEYS[2], string.sub(KEYS[1], #ARGV[4] + 1))
  return 1
end
return 0
"""

# KEYS[1]: the due set, KEYS[2]: the workers' last signs of life. ARGV: now, lease ms,
# worker, limit, lease key prefix. Takes up to `limit` due feeds whose lease is free:
# leases them to the worker and pushes their due time past the lease, so a dead worker's
# feeds come due again when it runs out. Every worker asks this every loop, so it also
# notes when the worker was last seen (Redis' clock), for `tipoff workers`.
CLAIM_DUE = """
redis.call('HSET', KEYS[2], ARGV[3], redis.call('TIME')[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])
local got = {}
for _, id in ipairs(ids) do
  if redis.call('SET', ARGV[5] .. id, ARGV[3], 'NX', 'PX', ARGV[2]) then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]) / 1000, id)
    table.insert(got, id)
  end
end
return got
"""

# Functions the outbox scripts share (prepended to each).
OUTBOX_LUA = """
-- the destination of a stream entry; nil when the entry is gone
local function dest_of(stream, entry)
  local rows = redis.call('XRANGE', stream, entry, entry)
  if #rows == 0 then return nil end
  local fields = rows[1][2]
  for j = 1, #fields, 2 do
    if fields[j] == 'dest' then return fields[j + 1] end
  end
  return ''
end

-- the worker that sends for a destination: the holder of its sender lease, while that
-- worker is alive (one that stopped gave up its name, and with it its leases)
local function sender_of(lease, prefix)
  local sender = redis.call('GET', lease)
  if sender and redis.call('EXISTS', prefix .. 'alive:' .. sender) == 0 then return nil end
  return sender
end

-- the consumer an entry is pending for; nil when it is pending for none
local function owner_of(stream, group, entry)
  local p = redis.call('XPENDING', stream, group, entry, entry, 1)
  if #p == 0 then return nil end
  return p[1][2]
end

-- give a pending entry to the worker that sends for its destination: move it to that
-- worker in the group (when idle at least min_idle ms) and push its id to the worker's
-- handed:{worker} list, which that worker empties every loop
local function hand_to(stream, group, sender, entry, min_idle, prefix, lease_ms)
  if #redis.call('XCLAIM', stream, group, sender, min_idle, entry, 'JUSTID') > 0 then
    local inbox = prefix .. 'handed:' .. sender
    redis.call('RPUSH', inbox, entry)
    redis.call('PEXPIRE', inbox, tonumber(lease_ms) * 3)
  end
end
"""

# KEYS[1]: the outbox stream. ARGV: group, worker, lease ms, key prefix, then pairs of
# stream entry and destination, as this worker read them. One worker at a time sends a
# destination's alerts (so they go out in the order they were queued, and one retry
# holds back what came after it, whichever worker queued them): the one holding the
# `sender:{dest}` lease. An entry of a destination this worker sends for (or that no one
# does) is kept, and the lease taken or renewed; any other is handed to the sender.
# Returns the kept entries.
ROUTE = OUTBOX_LUA + """
local kept = {}
for i = 5, #ARGV, 2 do
  local entry, dest = ARGV[i], ARGV[i + 1]
  local lease = ARGV[4] .. 'sender:' .. dest
  local sender = sender_of(lease, ARGV[4])
  if not sender or sender == ARGV[2] then
    redis.call('SET', lease, ARGV[2], 'PX', ARGV[3])
    table.insert(kept, entry)
  else
    hand_to(KEYS[1], ARGV[1], sender, entry, 0, ARGV[4], ARGV[3])
  end
end
return kept
"""

# KEYS[1]: the outbox stream. ARGV: group, worker, min idle ms, lease ms, key prefix, then
# pairs of stream entry and its owner, from XPENDING: entries idle past the lease (their
# worker stopped refreshing them: it died, or stopped and handed them back). Each is
# taken over by this worker when the destination's sender lease is free or ours, handed
# to the destination's sender when another live worker holds it, and left alone while the
# dead owner's lease has not run out yet (the next round takes it). XCLAIM's min idle
# time makes a race with the owner coming back harmless. An entry deleted meanwhile only
# leaves the pending list.
RECLAIM = OUTBOX_LUA + """
local kept = {}
for i = 6, #ARGV, 2 do
  local entry, owner = ARGV[i], ARGV[i + 1]
  local dest = dest_of(KEYS[1], entry)
  if dest == nil then
    redis.call('XACK', KEYS[1], ARGV[1], entry)
  else
    local lease = ARGV[5] .. 'sender:' .. dest
    local sender = sender_of(lease, ARGV[5])
    if not sender or sender == ARGV[2] then
      if #redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], entry, 'JUSTID') > 0 then
        redis.call('SET', lease, ARGV[2], 'PX', ARGV[4])
        table.insert(kept, entry)
      end
    elseif sender ~= owner then
      hand_to(KEYS[1], ARGV[1], sender, entry, ARGV[3], ARGV[5], ARGV[4])
    end
  end
end
return kept
"""

# KEYS[1]: the outbox stream. ARGV: group, worker, lease ms, key prefix, stream entry.
# Asked right before an alert is sent, so that a destination's alerts go out once and in
# the order they were queued, whatever happened between workers since this one read it:
# {0}: not this worker's to send (acknowledged meanwhile, taken over after this worker
# stalled past its lease, or its destination has another sender now: handed to it);
# {1, earlier entries…}: send it, as the destination's sender (its lease renewed). Every
# entry of the destination queued before it is this worker's now (taken from whoever
# held it: the sender owns its destination's whole queue), and listed, so that the
# worker sends any it has not loaded yet first.
BEGIN_SEND = OUTBOX_LUA + """
local me, entry, prefix = ARGV[2], ARGV[5], ARGV[4]
local dest = dest_of(KEYS[1], entry)
if dest == nil or owner_of(KEYS[1], ARGV[1], entry) ~= me then return {0} end
local lease = prefix .. 'sender:' .. dest
local sender = sender_of(lease, prefix)
if sender and sender ~= me then
  hand_to(KEYS[1], ARGV[1], sender, entry, 0, prefix, ARGV[3])
  return {0}
end
redis.call('SET', lease, me, 'PX', ARGV[3])
local out = {1}
local queue = prefix .. 'queue:' .. dest
local at = redis.call('LPOS', queue, entry)
if at and at > 0 then
  for _, e in ipairs(redis.call('LRANGE', queue, 0, at - 1)) do
    local owner = owner_of(KEYS[1], ARGV[1], e)
    if owner == nil then
      if dest_of(KEYS[1], e) == nil then redis.call('LREM', queue, 1, e) end
    else
      if owner ~= me then redis.call('XCLAIM', KEYS[1], ARGV[1], me, 0, e, 'JUSTID') end
      table.insert(out, e)
    end
  end
end
return out
"""

# KEYS[1]: the outbox stream, KEYS[2]: the due set. ARGV: group, worker, idle ms, key
# prefix, force, this process's name token, lease ms, how many entries follow, the
# entries (this worker's pending ones), then pairs of feed and due time: the feeds it
# leased and did not poll, with the time they were due. A worker that stops hands over
# what it holds, so that nothing waits for its leases to run out. Unless forced, it
# refuses (0) while entries handed to it wait unread: it must send those first (a
# worker run with --once drains until this succeeds). Then it gives up its name (no
# entry is handed to it any more), and each of its entries goes to the destination's
# sender if another worker holds that lease, else to a live worker (an heir: it becomes
# the destination's sender and finds the entries in its `handed:` list), else is marked
# idle past the lease for the next worker that starts; its unpolled feeds are due again
# as they were.
HAND_BACK = OUTBOX_LUA + """
local me, prefix = ARGV[2], ARGV[4]
local inbox = prefix .. 'handed:' .. me
if ARGV[5] ~= '1' and redis.call('LLEN', inbox) > 0 then return 0 end
redis.call('DEL', inbox)
if redis.call('GET', prefix .. 'alive:' .. me) == ARGV[6] then
  redis.call('DEL', prefix .. 'alive:' .. me)
  redis.call('SREM', prefix .. 'names', me)
end
local heir = nil
for _, name in ipairs(redis.call('SMEMBERS', prefix .. 'names')) do
  if redis.call('EXISTS', prefix .. 'alive:' .. name) == 1 then
    if name ~= me then heir = name break end
  else
    redis.call('SREM', prefix .. 'names', name)
  end
end
local n = tonumber(ARGV[8])
for i = 9, 8 + n do
  local entry = ARGV[i]
  local dest = dest_of(KEYS[1], entry)
  if dest == nil then
    redis.call('XACK', KEYS[1], ARGV[1], entry)
  else
    local lease = prefix .. 'sender:' .. dest
    if redis.call('GET', lease) == me then redis.call('DEL', lease) end
    local sender = sender_of(lease, prefix)
    if not sender and heir then
      redis.call('SET', lease, heir, 'PX', ARGV[7])
      sender = heir
    end
    if sender then
      hand_to(KEYS[1], ARGV[1], sender, entry, 0, prefix, ARGV[7])
    else
      redis.call('XCLAIM', KEYS[1], ARGV[1], me, 0, entry, 'IDLE', ARGV[3], 'JUSTID')
    end
  end
end
for i = 9 + n, #ARGV, 2 do
  local lease = prefix .. 'lease:' .. ARGV[i]
  if redis.call('GET', lease) == me then
    redis.call('DEL', lease)
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
  end
end
return 1
"""

# KEYS: sender leases of the destinations this worker holds alerts for. ARGV: worker,
# lease ms. Renews each lease that is ours or free; returns how many another holds.
RENEW_SENDERS = """
local lost = 0
for i = 1, #KEYS do
  local sender = redis.call('GET', KEYS[i])
  if not sender or sender == ARGV[1] then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  else
    lost = lost + 1
  end
end
return lost
"""

HOLD_LOCK = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""

# KEYS[1]: the set of live workers. ARGV: worker, seconds a worker counts as alive after
# its last sign of life. Marks this worker alive (on Redis' clock, so workers' clocks
# need not agree) and returns how many are.
WORKERS_ALIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
"""

# KEYS[1]: the agreed number. ARGV: this worker's proposal, the prefix of the locks it
# numbers. The number stands while any of its locks (prefix .. 0 … n-1) is held: workers
# that share things out by it must agree; a proposal replaces it once none is.
AGREE_COUNT = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current ~= tonumber(ARGV[1]) then
  for i = 0, current - 1 do
    if redis.call('EXISTS', ARGV[2] .. i) == 1 then return current end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])
"""

RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
