-- Sets a credit balance if it is not known yet. KEYS[1] hash; ARGV[1] balance.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'bal', ARGV[1], 'res', 0)
return 1
