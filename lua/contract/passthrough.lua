-- The script indexes KEYS and ARGV itself, as public script corpora do.
%keys keys
%args argv
%return str[]
local out = {}
for i = 1, #KEYS do out[#out + 1] = 'k:' .. KEYS[i] end
for i = 1, #ARGV do out[#out + 1] = 'a:' .. ARGV[i] end
return out
