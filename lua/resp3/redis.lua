%key hash
%arg kind str
%return redis
%include "shape"
return shape(kind, hash)
