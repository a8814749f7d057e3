-- Who is connected where, across nodes: sessions, presence, watches, node liveness and
-- token revocation.
--
-- A session is the member `<node>/<conn>` of the sorted set `s:<user>`, scored by login
-- order; `nu:<node>` is the set of users with a session on that node. A node is alive while
-- its score in `nodes` (an expiry time, refreshed by its heartbeat) is in the future. A user
-- is online while `s:<user>` has a member; `st` holds statuses other than `online`.
-- `w:<user>` is the set of nodes with a connection watching that user. A node whose score
-- is older than one expiry is dead (see `beat`): so one dies within two expiries.
--
-- Events go to the node channels `node:<node>` (and presence also to `presence`, which the
-- nodes of a relay broadcasting presence listen to): `k` closes a session, `p` tells a
-- presence change, `w` gives a connection the snapshot it asked for with `watch`.
--
-- ARGV[2] names the operation:
--
--   claim, node, conn, user, max sessions, token generation
--                                         -> {'ok', the `<node>/<conn>` sessions it replaced...},
--                                            or {'revoked'} when the user's token generation
--                                            is no longer the one the login checked
--   release, node, conn, user             -> 1 if the session was there, else 0
--   check, node, user, conn...            -> the conns of this node still registered
--   status, user, status                  -> 1 if the user is online (and watchers told)
--   watch, node, conn, name...            -> 1 (the snapshot comes as an event)
--   unwatch, node, name...                -> 1
--   beat, node, expiry ms, max dead       -> {1 if this node was registered, nodes swept}
--   revoke, user                          -> {the user's new token generation, sessions closed}
local op = ARGV[2]

local function status_of(user)
  if redis.call('EXISTS', P .. 's:' .. user) == 0 then
    return 'offline'
  end
  return redis.call('HGET', P .. 'st', user) or 'online'
end

-- Tells the nodes watching `user`, and the broadcast channel, its new status.
local function announce(user, status)
  local payload = 'p' .. field(user) .. status
  local watchers = P .. 'w:' .. user
  for _, node in ipairs(redis.call('SMEMBERS', watchers)) do
    if redis.call('PUBLISH', P .. 'node:' .. node, payload) == 0 then
      -- Nobody listens there: the node is gone (or reconnecting, and then it registers its
      -- watches again).
      redis.call('SREM', watchers, node)
    end
  end
  redis.call('PUBLISH', P .. 'presence', payload)
end

local function went_offline(user)
  redis.call('HDEL', P .. 'st', user)
  announce(user, 'offline')
end

-- Takes `user` out of `nu:<node>` when no session of it is left on that node.
local function forget_if_last(user, node)
  local prefix = node .. '/'
  for _, member in ipairs(redis.call('ZRANGE', P .. 's:' .. user, 0, -1)) do
    if string.sub(member, 1, #prefix) == prefix then
      return
    end
  end
  redis.call('SREM', P .. 'nu:' .. node, user)
end

local function kick(member, user, reason)
  local node, conn = string.match(member, '^([^/]+)/(.+)$')
  redis.call('PUBLISH', P .. 'node:' .. node, 'k' .. field(conn) .. field(user) .. reason)
  return node
end

if op == 'claim' then
  local node, conn, user, max = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
  local generation = tonumber(redis.call('HGET', P .. 'tokgen', user) or '0')
  if generation ~= tonumber(ARGV[7]) then
    return { 'revoked' }
  end
  local sessions = P .. 's:' .. user
  local before = status_of(user)
  redis.call('ZADD', sessions, redis.call('INCR', P .. 'seq'), node .. '/' .. conn)
  redis.call('SADD', P .. 'nu:' .. node, user)
  local replaced = { 'ok' }
  local count = redis.call('ZCARD', sessions)
  if count > max then
    for _, member in ipairs(redis.call('ZRANGE', sessions, 0, count - max - 1)) do
      redis.call('ZREM', sessions, member)
      forget_if_last(user, kick(member, user, 'session_replaced'))
      replaced[#replaced + 1] = member
    end
  end
  if before ~= 'online' then
    redis.call('HDEL', P .. 'st', user)
    announce(user, 'online')
  end
  return replaced
end

if op == 'release' then
  local node, conn, user = ARGV[3], ARGV[4], ARGV[5]
  local sessions = P .. 's:' .. user
  if redis.call('ZREM', sessions, node .. '/' .. conn) == 0 then
    return 0
  end
  forget_if_last(user, node)
  if redis.call('ZCARD', sessions) == 0 then
    went_offline(user)
  end
  return 1
end

if op == 'check' then
  local node, user = ARGV[3], ARGV[4]
  local sessions = P .. 's:' .. user
  local alive = {}
  for i = 5, #ARGV do
    if redis.call('ZSCORE', sessions, node .. '/' .. ARGV[i]) then
      alive[#alive + 1] = ARGV[i]
    end
  end
  if #alive > 0 then
    redis.call('SADD', P .. 'nu:' .. node, user)
  end
  return alive
end

if op == 'status' then
  local user, status = ARGV[3], ARGV[4]
  local before = status_of(user)
  if before == 'offline' then
    return 0
  end
  if before ~= status then
    if status == 'online' then
      redis.call('HDEL', P .. 'st', user)
    else
      redis.call('HSET', P .. 'st', user, status)
    end
    announce(user, status)
  end
  return 1
end

if op == 'watch' then
  local node, conn = ARGV[3], ARGV[4]
  local snapshot = 'w' .. field(conn)
  for i = 5, #ARGV do
    local name = ARGV[i]
    redis.call('SADD', P .. 'w:' .. name, node)
    snapshot = snapshot .. field(name) .. field(status_of(name))
  end
  -- Through the node's channel, not the reply: every later change of these users then
  -- reaches the node after the snapshot.
  redis.call('PUBLISH', P .. 'node:' .. node, snapshot)
  return 1
end

if op == 'unwatch' then
  local node = ARGV[3]
  for i = 4, #ARGV do
    redis.call('SREM', P .. 'w:' .. ARGV[i], node)
  end
  return 1
end

if op == 'beat' then
  local node, expiry, max_dead = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
  local nodes = P .. 'nodes'
  local now = now_ms()
  local previous = redis.call('ZSCORE', nodes, node)
  redis.call('ZADD', nodes, int(now + expiry), node)
  local since = P .. 'since'
  if not previous or tonumber(previous) < now then
    -- This node's beats did not reach Redis in time either (it just started, or Redis or
    -- the network was away, and perhaps for every node): its run of beats starts over.
    redis.call('HSET', since, node, int(now))
    return { previous and 1 or 0, 0 }
  end
  -- A node is declared dead only by one that kept beating for a whole expiry while the
  -- other did not beat at all: so after an outage of Redis every node first has an expiry's
  -- time to beat again.
  if tonumber(redis.call('HGET', since, node) or now) > now - expiry then
    return { 1, 0 }
  end
  local dead = redis.call('ZRANGEBYSCORE', nodes, '-inf', int(now - expiry), 'LIMIT', 0, max_dead)
  for _, gone in ipairs(dead) do
    local users = P .. 'nu:' .. gone
    local prefix = gone .. '/'
    for _, user in ipairs(redis.call('SMEMBERS', users)) do
      local sessions = P .. 's:' .. user
      for _, member in ipairs(redis.call('ZRANGE', sessions, 0, -1)) do
        if string.sub(member, 1, #prefix) == prefix then
          redis.call('ZREM', sessions, member)
        end
      end
      if redis.call('ZCARD', sessions) == 0 then
        went_offline(user)
      end
    end
    redis.call('DEL', users)
    redis.call('ZREM', nodes, gone)
    redis.call('HDEL', since, gone)
  end
  return { 1, #dead }
end

if op == 'revoke' then
  local user = ARGV[3]
  local generation = redis.call('HINCRBY', P .. 'tokgen', user, 1)
  local sessions = P .. 's:' .. user
  local members = redis.call('ZRANGE', sessions, 0, -1)
  redis.call('DEL', sessions)
  for _, member in ipairs(members) do
    redis.call('SREM', P .. 'nu:' .. kick(member, user, 'token_revoked'), user)
  end
  if #members > 0 then
    went_offline(user)
  end
  return { generation, #members }
end

return redis.error_reply('unknown sessions operation ' .. tostring(op))
