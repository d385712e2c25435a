%arg n int
%return int?
return n
