-- Forgets cjson.encode: Redis sends the table as an array.
%return dict
return {1, 2}
