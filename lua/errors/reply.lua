-- Returns an error reply on purpose: the script answered, it did not crash.
%arg code str
%return str
return redis.error_reply(code .. " the answer is no")
