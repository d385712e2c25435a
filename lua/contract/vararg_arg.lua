-- Lua 5.1's implicit `arg` of a vararg function (qless-core).
%return int
local function count(...)
    return arg.n
end
return count('a', 'b', 'c')
