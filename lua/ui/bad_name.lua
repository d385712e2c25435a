%key end
%arg 2fast int
%return int
return 1
