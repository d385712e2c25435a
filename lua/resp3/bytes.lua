%key hash
%arg kind str
%return bytes?
%include "shape"
return shape(kind, hash)
