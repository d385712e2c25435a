-- A helper with a typo: `then` is missing.
local function bump(key)
  local n = redis.call("INCR", key)
  if n > 10
    redis.call("SET", key, 0)
  end
  return n
end
