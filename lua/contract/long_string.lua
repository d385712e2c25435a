%arg name
%return str
local t = [[
%arg x
]]
local r = #name
  % 4
return t .. r
