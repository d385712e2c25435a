%include "lib/not_there"
%return int
return 1
