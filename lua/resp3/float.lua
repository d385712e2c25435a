%key hash
%arg kind str
%return float?
%include "shape"
return shape(kind, hash)
