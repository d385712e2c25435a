%key hash
%arg kind str
%return bool
%include "shape"
return shape(kind, hash)
