-- Adds one to the "count" field of any JSON object.
%arg value json
%return json
value.count = value.count + 1
return cjson.encode(value)
