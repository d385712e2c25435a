-- Swaps two string values.
%key a
%key b
local va = redis.call('GET', a)
local vb = redis.call('GET', b)
if vb then redis.call('SET', a, vb) else redis.call('DEL', a) end
if va then redis.call('SET', b, va) else redis.call('DEL', b) end
