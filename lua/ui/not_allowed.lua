%key user?
%arg ids str[]
%return int...
return 1
