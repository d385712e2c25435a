%return int[]
return {1, 2, "three"}
