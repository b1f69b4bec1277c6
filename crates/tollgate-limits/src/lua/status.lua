-- A budget window's figures: KEYS[1] hash, KEYS[2] lease zset. Expired holds are
-- released first so that a dead node's holds do not show. Returns {uc, ut, rc, rt}.
purge(KEYS[1], KEYS[2], math.floor(now_us() / 1000), false)
local v = redis.call('HMGET', KEYS[1], 'uc', 'ut', 'rc', 'rt')
return {tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0}
