%arg present bool
%return int?
if present then return 7 end
return nil
