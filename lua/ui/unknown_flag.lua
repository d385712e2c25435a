#!lua flags=no-writes,allow-stal
%key counter
%return str?
return redis.call("GET", counter)
