%key hash
%arg kind str
%return int?
%include "shape"
return shape(kind, hash)
