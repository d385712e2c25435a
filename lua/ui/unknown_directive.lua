%kye user
%return int
return 1
