%arg n int
return n
