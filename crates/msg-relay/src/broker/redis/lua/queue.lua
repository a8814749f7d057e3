-- A user's queue after the send: what a login reads, what an acknowledgement removes, and
-- the sweep that drops messages at the end of their time to live. Redis 7.0 streams have no
-- per-entry TTL, so age is the stream ID's time: a read skips entries older than the TTL,
-- and the sweep trims them by ID.
--
-- ARGV[2] names the operation:
--
--   backlog, user, after ('' for the start), max, new epoch, ttl ms, meta ttl ms
--     -> {epoch, sid, from, id, frame, sid, from, id, frame, ...}, oldest first
--   ack, user, sid...
--     -> how many entries it removed (an unknown or repeated sid removes nothing)
--   expire, ttl ms, max users
--     -> {to, from, id, written (0/1), ...} for every entry it dropped; it also tells the
--        sender's nodes of each entry never handed to a node
local op = ARGV[2]

if op == 'backlog' then
  local user, after, max = ARGV[3], ARGV[4], tonumber(ARGV[5])
  local new_epoch, ttl, meta_ttl = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
  local meta = P .. 'm:' .. user
  local epoch = ensure_meta(user, new_epoch)
  redis.call('PEXPIRE', meta, meta_ttl)
  -- From the later of `after` (exclusive) and the oldest ID still within the TTL.
  local first_alive = now_ms() - ttl + 1
  local start = int(first_alive) .. '-0'
  if after ~= '' and sid_ms(after) >= first_alive then
    start = '(' .. after
  end
  local entries = redis.call('XRANGE', P .. 'q:' .. user, start, '+', 'COUNT', max)
  local out = { epoch }
  for _, entry in ipairs(entries) do
    local fields = entry_fields(entry[2])
    out[#out + 1] = entry[1]
    out[#out + 1] = fields['f']
    out[#out + 1] = fields['i']
    out[#out + 1] = fields['m']
  end
  if #entries > 0 then
    local last = entries[#entries][1]
    local written = redis.call('HGET', meta, 'w')
    if not written or sid_after(last, written) then
      redis.call('HSET', meta, 'w', last)
    end
  end
  return out
end

if op == 'ack' then
  local user = ARGV[3]
  local queue = P .. 'q:' .. user
  local removed = 0
  for i = 4, #ARGV do
    local sid = ARGV[i]
    local found = redis.call('XRANGE', queue, sid, sid)
    if #found == 1 then
      local fields = entry_fields(found[1][2])
      redis.call('XDEL', queue, sid)
      uncount(user, fields['f'], #fields['m'])
      removed = removed + 1
    end
  end
  if removed > 0 and redis.call('XLEN', queue) == 0 then
    redis.call('DEL', queue)
  end
  return removed
end

if op == 'expire' then
  local ttl, max_users = tonumber(ARGV[3]), tonumber(ARGV[4])
  local now = now_ms()
  local cutoff = now - ttl
  local out = {}
  local due = redis.call('ZRANGEBYSCORE', P .. 'exp', '-inf', int(now), 'LIMIT', 0, max_users)
  for _, user in ipairs(due) do
    local queue, meta = P .. 'q:' .. user, P .. 'm:' .. user
    local written = redis.call('HGET', meta, 'w')
    -- Every entry whose ID time is at most `cutoff`: accepted at least `ttl` ago.
    local entries = redis.call('XRANGE', queue, '-', int(cutoff))
    for _, entry in ipairs(entries) do
      local sid = entry[1]
      local fields = entry_fields(entry[2])
      uncount(user, fields['f'], #fields['m'])
      local was_written = written and not sid_after(sid, written)
      if not was_written then
        publish_to_sessions(fields['f'],
          'x' .. field(fields['f']) .. field(user) .. fields['i'])
      end
      out[#out + 1] = user
      out[#out + 1] = fields['f']
      out[#out + 1] = fields['i']
      out[#out + 1] = was_written and 1 or 0
    end
    if #entries > 0 then
      redis.call('XTRIM', queue, 'MINID', int(cutoff + 1))
    end
    local oldest = redis.call('XRANGE', queue, '-', '+', 'COUNT', 1)
    if #oldest == 1 then
      redis.call('ZADD', P .. 'exp', int(sid_ms(oldest[1][1]) + ttl), user)
    else
      redis.call('ZREM', P .. 'exp', user)
      redis.call('DEL', queue)
    end
  end
  return out
end

return redis.error_reply('unknown queue operation ' .. tostring(op))
