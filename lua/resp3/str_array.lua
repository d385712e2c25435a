%key hash
%arg kind str
%return str[]
%include "shape"
return shape(kind, hash)
