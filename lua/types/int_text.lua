-- Returns an int argument exactly as it travelled (Lua numbers would round it).
%arg value int
%return str
return ARGV[1] .. (value and "" or "")
