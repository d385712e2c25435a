-- Adds `n` to a JSON tally stored at `key` and returns the new tally.
%key key
%arg n int
%return json
local raw = redis.call('GET', key)
local tally = {count = 0, runs = 0}
if raw then
  tally = cjson.decode(raw)
end
tally.count = tally.count + n
tally.runs = tally.runs + 1
local text = cjson.encode(tally)
redis.call('SET', key, text)
return text
