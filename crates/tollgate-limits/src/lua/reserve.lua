-- Reserves a request's worst case on every budget rule and on credits, all or nothing.
-- Windows come from server time, so key names are built here.
-- ARGV: prefix, member, lease ms, cost, tokens, rule count, credits consumer ('' none),
-- then per rule: unit ('usd'|'tok'), period, limit, scope.
-- Hash fields: uc/ut settled cost/tokens, rc/rt held, r:<member> = "cost tokens".
-- Returns {-1} when the consumer's credits are unknown, else
-- {fits, first failing (rule index, n + 1 for credits, 0), then per rule:
--  window start, window end (-1 none), uc, ut, rc, rt; then (credits) balance, held}.
local prefix, member = ARGV[1], ARGV[2]
local lease = tonumber(ARGV[3])
local cost, tokens = tonumber(ARGV[4]), tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local consumer = ARGV[7]
local now = now_us()
local now_ms = math.floor(now / 1000)
local now_s = math.floor(now / 1000000)

local status, deny = 1, 0
local rs = {}
for i = 1, n do
  local b = 7 + (i - 1) * 4
  local unit, period, limit, scope = ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3]), ARGV[b + 4]
  local ws, we = window_of(period, now_s)
  local tail = unit .. ':' .. period .. ':' .. int(ws) .. ':' .. scope
  local r = {h = prefix .. 'b:' .. tail, z = prefix .. 'bz:' .. tail, ws = ws, we = we}
  purge(r.h, r.z, now_ms, false)
  local v = redis.call('HMGET', r.h, 'uc', 'ut', 'rc', 'rt')
  r.uc, r.ut = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  r.rc, r.rt = tonumber(v[3]) or 0, tonumber(v[4]) or 0
  local fits
  if unit == 'usd' then
    fits = r.uc + r.rc + cost <= limit
  else
    fits = r.ut + r.rt + tokens <= limit
  end
  if not fits and status == 1 then
    status, deny = 0, i
  end
  rs[i] = r
end

local ch, cz, bal, held
if consumer ~= '' then
  ch, cz = prefix .. 'c:' .. consumer, prefix .. 'cz:' .. consumer
  if redis.call('EXISTS', ch) == 0 then
    return {-1}
  end
  purge(ch, cz, now_ms, true)
  local v = redis.call('HMGET', ch, 'bal', 'res')
  bal, held = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if status == 1 and bal - held < cost then
    status, deny = 0, n + 1
  end
end

if status == 1 then
  local hold = int(cost) .. ' ' .. int(tokens)
  for i = 1, n do
    local r = rs[i]
    redis.call('HINCRBY', r.h, 'rc', cost)
    redis.call('HINCRBY', r.h, 'rt', tokens)
    redis.call('HSET', r.h, 'r:' .. member, hold)
    redis.call('ZADD', r.z, now_ms + lease, member)
    if r.we >= 0 then
      redis.call('EXPIREAT', r.h, r.we + GRACE)
      redis.call('EXPIREAT', r.z, r.we + GRACE)
    end
    r.rc, r.rt = r.rc + cost, r.rt + tokens
  end
  if ch then
    redis.call('HINCRBY', ch, 'res', cost)
    redis.call('HSET', ch, 'r:' .. member, int(cost) .. ' 0')
    redis.call('ZADD', cz, now_ms + lease, member)
    held = held + cost
  end
end

local out = {status, deny}
for i = 1, n do
  local r = rs[i]
  out[#out + 1] = r.ws
  out[#out + 1] = r.we
  out[#out + 1] = r.uc
  out[#out + 1] = r.ut
  out[#out + 1] = r.rc
  out[#out + 1] = r.rt
end
if ch then
  out[#out + 1] = bal
  out[#out + 1] = held
end
return out
