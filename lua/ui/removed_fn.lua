%return int
local json = require("cjson")
print("hello")
return 1
