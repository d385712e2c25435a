-- Round trip of an int argument and reply.
%arg value int
%return int
return value
