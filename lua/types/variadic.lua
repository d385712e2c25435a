-- Variadic keys and args: each bound to a table; KEYS/ARGV still hold them all.
%key first
%key rest...
%arg scale int
%arg values int...
%return str[]
local out = {}
for i, v in ipairs(values) do
  out[#out + 1] = first .. "|" .. table.concat(rest, ",") .. "|" .. (v * scale)
end
-- unpack(ARGV, 2) still sees every value (small lists only: unpack is
-- bounded by Lua's C stack).
local unpacked = #ARGV < 1000 and select("#", unpack(ARGV, 2)) or -1
out[#out + 1] = tostring(#KEYS) .. "/" .. tostring(#ARGV) .. "/" .. tostring(unpacked)
return out
