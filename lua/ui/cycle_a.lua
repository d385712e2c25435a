%include "lib/cycle_b"
%return int
return 1
