%key user
%arg size intt
%arg unused
%return int
local n = size + 1
return redis.call("HLEN", usr)
