-- Extends the leases of live permits and reservations: KEYS[i] is a lease zset,
-- ARGV[2i] the member, ARGV[2i+1] '1' when the zset's own TTL follows the lease.
-- Only members still present are renewed (a released one stays released).
local now_ms = math.floor(now_us() / 1000)
local lease = tonumber(ARGV[1])
for i = 1, #KEYS do
  local m = ARGV[2 * i]
  if redis.call('ZSCORE', KEYS[i], m) then
    redis.call('ZADD', KEYS[i], 'XX', now_ms + lease, m)
    if ARGV[2 * i + 1] == '1' then
      redis.call('PEXPIRE', KEYS[i], lease * 2)
    end
  end
end
return 1
