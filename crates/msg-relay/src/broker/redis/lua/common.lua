-- Prepended to every script of the Redis engine (scripts.rs). Definitions only: each script
-- reads its own arguments after these lines.
--
-- ARGV[1] is the key prefix of the deployment (`msg-relay:` by default). Every key is built
-- here from it, which is why the engine needs one Redis primary and not a Redis Cluster:
-- a script that touches the recipient's queue, the sender's quota and the nodes' channels
-- cannot declare all of them in KEYS beforehand.
local P = ARGV[1]

-- Milliseconds on Redis's clock: one clock for every node, whatever theirs say.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- An integer as Redis and the relay read it (tostring would write 1e+15 for large ones).
local function int(n)
  return string.format('%.0f', n)
end

-- One field of an event: its length, a colon, its bytes (events.rs decodes them).
local function field(s)
  return #s .. ':' .. s
end

-- The milliseconds part of a stream ID (`<ms>-<seq>`).
local function sid_ms(sid)
  return tonumber(string.match(sid, '^(%d+)'))
end

-- Whether stream ID `a` comes after stream ID `b`.
local function sid_after(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, b_ms = tonumber(a_ms), tonumber(b_ms)
  if a_ms ~= b_ms then
    return a_ms > b_ms
  end
  return tonumber(a_seq) > tonumber(b_seq)
end

-- Publishes `payload` once to every node holding a session of `user` (sessions are
-- `<node>/<conn>` members of `s:<user>`); returns how many nodes received it.
local function publish_to_sessions(user, payload)
  local members = redis.call('ZRANGE', P .. 's:' .. user, 0, -1)
  local seen, received = {}, 0
  for _, member in ipairs(members) do
    local node = string.match(member, '^([^/]+)/')
    if node and not seen[node] then
      seen[node] = true
      received = received + redis.call('PUBLISH', P .. 'node:' .. node, payload)
    end
  end
  return received
end

-- The user's queue metadata: its epoch, created with `new_epoch` when missing. The epoch
-- changes only when Redis lost the metadata (data lost, or the user was away longer than
-- it is kept); the bytes the queue holds are then counted again from the stream itself.
local function ensure_meta(user, new_epoch)
  local meta = P .. 'm:' .. user
  local epoch = redis.call('HGET', meta, 'e')
  if epoch then
    return epoch
  end
  local bytes = 0
  for _, entry in ipairs(redis.call('XRANGE', P .. 'q:' .. user, '-', '+')) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'm' then
        bytes = bytes + #fields[i + 1]
      end
    end
  end
  redis.call('HSET', meta, 'e', new_epoch, 'b', bytes)
  return new_epoch
end

-- An entry's fields by name (a stream entry is a flat list of names and values).
local function entry_fields(flat)
  local fields = {}
  for i = 1, #flat, 2 do
    fields[flat[i]] = flat[i + 1]
  end
  return fields
end

-- Takes `size` bytes and one message off the counters a message leaving `user`'s queue
-- held: the queue's bytes, the relay-wide totals and its sender's quota.
local function uncount(user, sender, size)
  redis.call('HINCRBY', P .. 'm:' .. user, 'b', -size)
  redis.call('HINCRBY', P .. 'totals', 'b', -size)
  redis.call('HINCRBY', P .. 'totals', 'n', -1)
  local quota = P .. 'sq:' .. sender
  if redis.call('HINCRBY', quota, 'n', -1) <= 0 then
    redis.call('DEL', quota)
  else
    redis.call('HINCRBY', quota, 'b', -size)
  end
end
