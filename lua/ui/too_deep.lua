%return int
local x = 1
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
if x then
x = x + 1
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
end
return x
