-- Replaces a reservation by the actual spend, and reports threshold crossings once.
-- KEYS: per rule the window hash and lease zset; then (credits) hash and zset.
-- ARGV: member, actual cost, actual tokens, rule count, '1' if credits, then per rule:
-- unit, limit, key expiry (unix s, -1 none), marker key base, scope.
-- A hold already dropped by lease expiry is not subtracted twice; the spend is added
-- to the window the reservation was made in.
-- Returns per rule {crossed bit mask (50/80/100 %), uc, ut}, then (credits)
-- {charged (0 when the balance is unknown), balance}.
local member = ARGV[1]
local cost, tokens = tonumber(ARGV[2]), tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local has_credits = ARGV[5] == '1'
local pcts = {50, 80, 100}
local out = {}
for i = 1, n do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  local b = 5 + (i - 1) * 5
  local unit, limit, exp = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local mbase, scope = ARGV[b + 4], ARGV[b + 5]
  drop_hold(h, member, false)
  redis.call('ZREM', z, member)
  local field = 'ut'
  if unit == 'usd' then field = 'uc' end
  local before = tonumber(redis.call('HGET', h, field)) or 0
  local uc = redis.call('HINCRBY', h, 'uc', cost)
  local ut = redis.call('HINCRBY', h, 'ut', tokens)
  local after = ut
  if unit == 'usd' then after = uc end
  if exp >= 0 then
    redis.call('EXPIREAT', h, exp)
  end
  local crossed = 0
  for j, p in ipairs(pcts) do
    if limit > 0 and before * 100 < p * limit and after * 100 >= p * limit then
      local set
      if exp >= 0 then
        set = redis.call('SET', mbase .. p .. ':' .. scope, '1', 'NX', 'EXAT', exp)
      else
        set = redis.call('SET', mbase .. p .. ':' .. scope, '1', 'NX')
      end
      if set then crossed = crossed + 2 ^ (j - 1) end
    end
  end
  out[#out + 1] = crossed
  out[#out + 1] = uc
  out[#out + 1] = ut
end
if has_credits then
  local ch, cz = KEYS[2 * n + 1], KEYS[2 * n + 2]
  drop_hold(ch, member, true)
  redis.call('ZREM', cz, member)
  if redis.call('EXISTS', ch) == 1 then
    out[#out + 1] = 1
    out[#out + 1] = redis.call('HINCRBY', ch, 'bal', 0 - cost)
  else
    out[#out + 1] = 0
    out[#out + 1] = 0
  end
end
return out
