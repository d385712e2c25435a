%key first
%keys rest
%args argv bytes
%return int
redis.call('SET', first, ARGV[1])
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[i]) end
return #KEYS + #ARGV
