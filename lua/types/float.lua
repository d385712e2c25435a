-- Floats travel as text: %.17g is the shortest form Lua 5.1 can print that
-- always round-trips a double.
%arg value float
%return float
return string.format("%.17g", value)
