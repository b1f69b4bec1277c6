-- Frees the concurrency slot of ARGV[1] in every KEYS[i].
for i = 1, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[1])
end
return 1
