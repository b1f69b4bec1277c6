-- Admission across rate rules, all or nothing.
-- KEYS[i]: state of check i. ARGV: member, estimated tokens, lease ms, then per check
-- a kind ('r' requests/min, 't' tokens/min, 'c' concurrency) and its limit.
-- Returns {admitted, then per check: allowed, remaining, reset_us, retry_us}; the
-- figures include this request when admitted and exclude it when not.
local member = ARGV[1]
local n = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local now = now_us()
local now_ms = math.floor(now / 1000)
local W = 60000000

local function remaining(d, limit)
  local r = math.floor((W - d) * limit / W)
  if r < 0 then r = 0 end
  return r
end

local checks = {}
local all_ok = true
for i = 1, #KEYS do
  local kind = ARGV[2 + 2 * i]
  local limit = tonumber(ARGV[3 + 2 * i])
  local c = {kind = kind}
  if kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now_ms)
    local cnt = redis.call('ZCARD', KEYS[i])
    local free = limit - cnt
    if free < 0 then free = 0 end
    c.ok = cnt < limit
    c.rem_before, c.reset_before, c.reset_after = free, 0, 0
    if c.ok then c.rem_after = free - 1; c.retry = 0 else c.rem_after = free; c.retry = 1000000 end
  else
    local cost = 1
    if kind == 't' then cost = n end
    local tat = tonumber(redis.call('GET', KEYS[i])) or now
    if tat < now then tat = now end
    local d = tat - now
    c.rem_before, c.reset_before = remaining(d, limit), d
    if limit <= 0 then
      c.ok, c.retry, c.rem_after, c.reset_after = false, W, 0, d
    else
      local ct = cost * W / limit
      local slack = W - ct
      if slack < 0 then slack = 0 end
      if d <= slack then
        c.ok, c.retry, c.new = true, 0, tat + ct
        c.rem_after, c.reset_after = remaining(c.new - now, limit), c.new - now
      else
        c.ok, c.retry = false, d - slack
        c.rem_after, c.reset_after = c.rem_before, d
      end
    end
  end
  if not c.ok then all_ok = false end
  checks[i] = c
end

if all_ok then
  for i = 1, #KEYS do
    local c = checks[i]
    if c.kind == 'c' then
      redis.call('ZADD', KEYS[i], now_ms + lease, member)
      redis.call('PEXPIRE', KEYS[i], lease * 2)
    else
      local ttl = math.ceil((c.new - now) / 1000) + 1000
      redis.call('SET', KEYS[i], int(c.new), 'PX', ttl)
    end
  end
end

local out = {all_ok and 1 or 0}
for i = 1, #KEYS do
  local c = checks[i]
  out[#out + 1] = c.ok and 1 or 0
  if all_ok then
    out[#out + 1] = c.rem_after
    out[#out + 1] = c.reset_after
  else
    out[#out + 1] = c.rem_before
    out[#out + 1] = c.reset_before
  end
  out[#out + 1] = c.retry
end
return out
