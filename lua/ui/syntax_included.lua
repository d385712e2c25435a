%key counter
%include "lib/broken"
%return int
return bump(counter)
