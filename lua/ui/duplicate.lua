%key user
%arg user str
%return int
return 1
