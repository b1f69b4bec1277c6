-- Adds ARGV[1] (may be negative) to a known balance. Returns {known, new balance}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 0}
end
return {1, redis.call('HINCRBY', KEYS[1], 'bal', ARGV[1])}
