%arg x redis
%return int
return #x
