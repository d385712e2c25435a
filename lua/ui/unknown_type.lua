%arg size integr
%return int
return size
