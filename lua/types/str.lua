%arg value str
%return str
return value
