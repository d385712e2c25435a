%args argv int
%return int
return #ARGV
