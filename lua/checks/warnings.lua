-- Compiles, with two warnings: an unused %arg and a key built from literals.
%key user
%arg unused int
%return str?
return redis.call("GET", "user:" .. "1")
