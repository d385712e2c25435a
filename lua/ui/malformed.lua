%key
%arg size int extra
%return int
return 1
