%key user
%arg size int
%arg name str
%return int
return size
