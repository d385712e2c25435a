-- Returns the bytes a hex string stands for, declared as str: a reply that
-- is not UTF-8 must be a decode error, not garbage.
%arg hex str
%return str
return (hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
