-- Included by errors/raise.lua: the error is raised on line 5 of this file.
%arg mode str
local function fail_now()
  if mode == "error" then
    error("boom from the library")
  elseif mode == "wrongtype" then
    return redis.call("HGET", scratch, "field")
  elseif mode == "arith" then
    return nil + 1
  end
end
