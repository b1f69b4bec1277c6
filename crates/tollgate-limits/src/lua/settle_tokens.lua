-- Corrects a tokens/min charge by ARGV[1] tokens (negative gives back) on every
-- KEYS[i], whose limit is ARGV[1 + i]. The TAT may end more than a minute ahead: debt.
local delta = tonumber(ARGV[1])
local now = now_us()
local W = 60000000
for i = 1, #KEYS do
  local limit = tonumber(ARGV[1 + i])
  if limit > 0 then
    local tat = tonumber(redis.call('GET', KEYS[i])) or now
    if tat < now then tat = now end
    local nt = tat + delta * W / limit
    if nt > now then
      redis.call('SET', KEYS[i], int(nt), 'PX', math.ceil((nt - now) / 1000) + 1000)
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
return 1
