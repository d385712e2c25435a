-- Declares a non-null int but returns null: a decode error naming the script.
%return int
return nil
