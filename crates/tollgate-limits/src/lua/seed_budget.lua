-- Sets a window's settled usage if the window is not known yet (the first node to
-- start seeds it from the database; later ones must not overwrite live figures).
-- KEYS[1] hash; ARGV: cost, tokens, expiry (unix s, -1 none). Returns 1 if seeded.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'uc', ARGV[1], 'ut', ARGV[2], 'rc', 0, 'rt', 0)
if tonumber(ARGV[3]) >= 0 then
  redis.call('EXPIREAT', KEYS[1], ARGV[3])
end
return 1
