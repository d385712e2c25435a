%arg value dict
%return dict
return cjson.encode(value)
