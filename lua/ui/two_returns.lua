%arg n int
%return int
%return str
return n
