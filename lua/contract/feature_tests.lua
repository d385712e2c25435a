-- Feature tests that read a member some Lua builds lack.
%return str
local t = {'x', 'y'}
local a, b = (table.unpack or unpack)(t)
local mt = type(cjson.decode_array_with_array_mt)
local repl = 'no'
if redis.set_repl2 then
    repl = 'yes'
end
return a .. b .. ':' .. mt .. ':' .. repl
