%arg value bytes
%return bytes
return value
