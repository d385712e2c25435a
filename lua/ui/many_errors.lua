%key user
%arg size integr
%frob x
%return int
return 1
