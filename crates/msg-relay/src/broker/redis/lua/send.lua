-- Accepts one `send` atomically: the sender's rate across nodes, the dedupe window of
-- (sender, id, recipient), the queue's bounds and the sender's quota, then the append to
-- the recipient's stream, the counters, and the event to every node holding a session of
-- the recipient. Whatever it answers `ok` is in the stream (and, with `appendfsync always`,
-- on Redis's disk) before the relay acknowledges it.
--
-- ARGV: 2 from, 3 to, 4 id, 5 frame, 6 new epoch, 7 queue max messages, 8 queue max bytes,
-- 9 total bytes, 10 ttl ms, 11 dedupe window ms, 12 dedupe max entries, 13 sends per second
-- (0: no limit), 14 burst, 15 sender max messages, 16 sender max bytes.
--
-- Answers {'ok', stream id, status (0 delivered, 1 queued), epoch}, {'dup', status},
-- {'rate', retry after ms} or {'full', bound}.
local from, to, id, frame = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local new_epoch = ARGV[6]
local max_messages, max_bytes, total_limit = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local ttl, window, dedupe_max = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local rate, burst = tonumber(ARGV[13]), tonumber(ARGV[14])
local sender_max_messages, sender_max_bytes = tonumber(ARGV[15]), tonumber(ARGV[16])
local now = now_ms()

-- A token bucket per sender, in thousandths of a token: `t` tokens at time `ts`.
if rate > 0 then
  local bucket = P .. 'r:' .. from
  local state = redis.call('HMGET', bucket, 't', 'ts')
  local full = burst * 1000
  local tokens = full
  if state[1] then
    tokens = math.min(full, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
  end
  if tokens < 1000 then
    return { 'rate', int(math.ceil((1000 - tokens) / rate)) }
  end
  redis.call('HSET', bucket, 't', int(tokens - 1000), 'ts', int(now))
  -- A bucket untouched this long is full again: the key may go.
  redis.call('PEXPIRE', bucket, int(math.ceil(full / rate) + 1000))
end

local dedupe = P .. 'd:' .. to
local member = field(from) .. id
if dedupe_max > 0 and window > 0 then
  -- The score is the acceptance time times two plus the status.
  local score = redis.call('ZSCORE', dedupe, member)
  if score then
    score = tonumber(score)
    if math.floor(score / 2) > now - window then
      return { 'dup', int(score % 2) }
    end
  end
end

local queue, meta, totals = P .. 'q:' .. to, P .. 'm:' .. to, P .. 'totals'
local quota = P .. 'sq:' .. from
local epoch = ensure_meta(to, new_epoch)
local size = #frame
local count = redis.call('XLEN', queue)
if count >= max_messages then
  return { 'full', 'count' }
end
if tonumber(redis.call('HGET', meta, 'b') or '0') + size > max_bytes then
  return { 'full', 'bytes' }
end
if tonumber(redis.call('HGET', totals, 'b') or '0') + size > total_limit then
  return { 'full', 'total_bytes' }
end
local held = redis.call('HMGET', quota, 'n', 'b')
if tonumber(held[1] or '0') >= sender_max_messages then
  return { 'full', 'sender_count' }
end
if tonumber(held[2] or '0') + size > sender_max_bytes then
  return { 'full', 'sender_bytes' }
end

local sid = redis.call('XADD', queue, '*', 'f', from, 'i', id, 'm', frame)
redis.call('HINCRBY', meta, 'b', size)
redis.call('PEXPIRE', meta, int(ttl + window))
redis.call('HINCRBY', totals, 'b', size)
redis.call('HINCRBY', totals, 'n', 1)
redis.call('HINCRBY', quota, 'n', 1)
redis.call('HINCRBY', quota, 'b', size)
if count == 0 then
  -- The queue's oldest entry decides when the expiry sweep looks at it next.
  redis.call('ZADD', P .. 'exp', 'NX', int(sid_ms(sid) + ttl), to)
end

local status = 1
if publish_to_sessions(to, 'm' .. field(to) .. field(sid) .. field(from) .. field(id) .. frame) > 0 then
  status = 0
  -- Handed to a node that writes it: an expiry later does not tell the sender it was
  -- never delivered.
  redis.call('HSET', meta, 'w', sid)
else
  -- Its sender is told `queued`: when it leaves the stream delivered, the sender is told
  -- `delivered` (queue.lua's `ack`).
  redis.call('SADD', P .. 'tq:' .. to, sid)
end

if dedupe_max > 0 and window > 0 then
  redis.call('ZADD', dedupe, int(now * 2 + status), member)
  redis.call('ZREMRANGEBYSCORE', dedupe, '-inf', int((now - window) * 2 + 1))
  local remembered = redis.call('ZCARD', dedupe)
  if remembered > dedupe_max then
    redis.call('ZREMRANGEBYRANK', dedupe, 0, remembered - dedupe_max - 1)
  end
  redis.call('PEXPIRE', dedupe, int(window))
end

return { 'ok', sid, int(status), epoch }
