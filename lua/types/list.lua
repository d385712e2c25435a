%arg value list
%return list
return cjson.encode(value)
