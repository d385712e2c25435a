-- Lua true is integer 1 on the wire and false is null: both decode as bool.
%arg value bool
%return bool
return value
