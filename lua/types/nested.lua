%return redis
return {"job", {7, "2.5"}, {"a", "b"}}
