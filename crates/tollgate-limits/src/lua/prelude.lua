-- Shared by every tollgate-limits script (prepended by the Rust side).
-- Time comes from the Redis server (TIME), never from a node, so that nodes with
-- skewed clocks share one view of rate windows, leases and budget periods.

local GRACE = 172800 -- seconds a budget window's keys outlive the window (late settlements)

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- The calendar window (UTC) of `period` containing `s` (seconds since the epoch):
-- start and end in seconds; end is -1 for 'total'. Mirrors window() in window.rs.
local function window_of(period, s)
  if period == 'total' then
    return 0, -1
  end
  local days = math.floor(s / 86400)
  if period == 'daily' then
    return days * 86400, (days + 1) * 86400
  end
  if period == 'weekly' then
    -- 1970-01-01 was a Thursday: Monday-based weekday is (days + 3) mod 7.
    local start = days - (days + 3) % 7
    return start * 86400, (start + 7) * 86400
  end
  -- monthly: civil date from day number (H. Hinnant's algorithm).
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp + 3
  if mp >= 10 then m = mp - 9 end
  if m <= 2 then y = y + 1 end
  local dim = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
  local n = dim[m]
  if m == 2 and ((y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0) then n = 29 end
  local start = days - (d - 1)
  return start * 86400, (start + n) * 86400
end

-- Integers as Redis wants them ('%.0f'; never '1e+15'). Negate with `0 - x`, not
-- `-x`: Lua's -0 prints as '-0', which HINCRBY rejects.
local function int(x)
  return string.format('%.0f', x)
end

-- Drops the hold of `member` in hash `h`; returns true if there was one.
-- Budget hashes keep the sums of holds in 'rc'/'rt'; credit hashes in 'res'.
local function drop_hold(h, member, credits)
  local v = redis.call('HGET', h, 'r:' .. member)
  if not v then
    return false
  end
  local c, t = string.match(v, '^(%-?%d+) (%-?%d+)$')
  c = tonumber(c) or 0
  t = tonumber(t) or 0
  if credits then
    redis.call('HINCRBY', h, 'res', 0 - c)
  else
    redis.call('HINCRBY', h, 'rc', 0 - c)
    redis.call('HINCRBY', h, 'rt', 0 - t)
  end
  redis.call('HDEL', h, 'r:' .. member)
  return true
end

-- Releases holds whose lease ran out (their node died or lost Redis): zset `z` scores
-- each hold's member by its lease expiry in milliseconds.
local function purge(h, z, now_ms, credits)
  local dead = redis.call('ZRANGEBYSCORE', z, '-inf', now_ms)
  for _, m in ipairs(dead) do
    drop_hold(h, m, credits)
    redis.call('ZREM', z, m)
  end
end
