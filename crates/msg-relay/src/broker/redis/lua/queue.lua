-- A user's queue after the send: what a login reads, what an acknowledgement removes, and
-- the sweep that drops messages at the end of their time to live. Redis 7.0 streams have no
-- per-entry TTL, so age is the stream ID's time: a read skips entries older than the TTL,
-- and the sweep trims them by ID.
--
-- ARGV[2] names the operation:
--
--   backlog, user, after ('' for the start), max, new epoch, ttl ms, meta ttl ms
--     -> {epoch, sid, from, id, frame, sid, from, id, frame, ...}, oldest first
--   ack, user, max receipts, receipts ttl ms, sid...
--     -> how many entries it removed (an unknown or repeated sid removes nothing); for
--        each removed entry whose sender was told `queued`, a receipt (below)
--   expire, ttl ms, max users
--     -> {to, from, id, written (0/1), ...} for every entry it dropped; it also tells the
--        sender's nodes of each entry never handed to a node
--   receipts, user, take (1) or drop (0)
--     -> {to, id, to, id, ...}: the receipts kept for `user`, oldest first (none when
--        dropping); either way they are gone from Redis
--   keep, user, max receipts, receipts ttl ms, to, id, to, id, ...
--     -> 1; puts receipts a node took but could not write back in front of the others
--
-- Receipts: `tq:<user>` holds the stream IDs of `user`'s queue whose senders were told
-- `queued` (send.lua). When `ack` removes one, the sender gets a receipt: `field(to) .. id`
-- appended to `rc:<sender>` (at most `max receipts`, the oldest dropped first, kept for
-- `receipts ttl ms` after the last), and an `r` event to each node holding a session of the
-- sender, which takes them for its connections that asked for receipts; a login takes the
-- rest before `synced`. The dedupe window then says `delivered`, so a repeated send is
-- answered `delivered`, and a receipt is never given for a send already answered so.
local op = ARGV[2]

-- Keeps `notices` (each `field(to) .. id`) for `sender`, before or after those kept.
local function keep_receipts(sender, notices, front, max, ttl)
  local kept = P .. 'rc:' .. sender
  if redis.call(front and 'LPUSH' or 'RPUSH', kept, unpack(notices)) > max then
    redis.call('LTRIM', kept, -max, -1)
  end
  redis.call('PEXPIRE', kept, ttl)
end

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
  local user, max, ttl = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
  local queue, told = P .. 'q:' .. user, P .. 'tq:' .. user
  local removed = 0
  -- Sender → its receipts, in the order of the acknowledgements.
  local receipts, senders = {}, {}
  for i = 6, #ARGV do
    local sid = ARGV[i]
    local found = redis.call('XRANGE', queue, sid, sid)
    if #found == 1 then
      local fields = entry_fields(found[1][2])
      local sender, id = fields['f'], fields['i']
      redis.call('XDEL', queue, sid)
      uncount(user, sender, #fields['m'])
      removed = removed + 1
      if redis.call('SREM', told, sid) == 1 then
        local dedupe, member = P .. 'd:' .. user, field(sender) .. id
        local score = redis.call('ZSCORE', dedupe, member)
        -- The score is the acceptance time times two plus the status (send.lua).
        if not score or tonumber(score) % 2 == 1 then
          if score then
            redis.call('ZADD', dedupe, 'XX', int(tonumber(score) - 1), member)
          end
          if not receipts[sender] then
            receipts[sender] = {}
            senders[#senders + 1] = sender
          end
          local list = receipts[sender]
          list[#list + 1] = field(user) .. id
        end
      end
    end
  end
  if removed > 0 and redis.call('XLEN', queue) == 0 then
    redis.call('DEL', queue)
  end
  for _, sender in ipairs(senders) do
    keep_receipts(sender, receipts[sender], false, max, ttl)
    publish_to_sessions(sender, 'r' .. sender)
  end
  return removed
end

if op == 'receipts' then
  local kept = P .. 'rc:' .. ARGV[3]
  local out = {}
  if ARGV[4] == '1' then
    for _, notice in ipairs(redis.call('LRANGE', kept, 0, -1)) do
      local len, rest = string.match(notice, '^(%d+):(.*)$')
      len = tonumber(len)
      -- Anything else was not written by this script: skipped.
      if len and len <= #rest then
        out[#out + 1] = string.sub(rest, 1, len)
        out[#out + 1] = string.sub(rest, len + 1)
      end
    end
  end
  redis.call('DEL', kept)
  return out
end

if op == 'keep' then
  local user, max, ttl = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
  local notices = {}
  -- Newest first, so that LPUSH leaves them oldest first.
  for i = #ARGV - 1, 6, -2 do
    notices[#notices + 1] = field(ARGV[i]) .. ARGV[i + 1]
  end
  if #notices > 0 then
    keep_receipts(user, notices, true, max, ttl)
  end
  return 1
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
      redis.call('SREM', P .. 'tq:' .. user, sid)
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
