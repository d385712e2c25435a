-- Doc example (redlua API docs): port of Redis in Action, listing 11.3.
%key user
%key ids
%arg fields str...
%return int?

-- Fetch the user's login name from their hash (`user` is e.g. 'user:1').
local login = redis.call('HGET', user, 'login')

-- If there's no login, return that no login was found (false is a nil reply).
if not login then
    return false
end

-- Get a new ID for the status message.
local id = redis.call('INCR', ids)

-- Prepare the destination key for the status message. As in the book, this
-- key is not passed in KEYS, so the script cannot run on Redis Cluster.
local key = string.format('status:%s', id)

-- The user's ID is the part of their key after 'user:'.
local uid = string.match(user, '^user:(.*)$') or user

-- Set the data for the status message: login, id and uid, then the caller's
-- field/value pairs (message, posted, ...). HSET takes several pairs since
-- Redis 4.0 and replaces the book's deprecated HMSET.
redis.call('HSET', key, 'login', login, 'id', id, 'uid', uid, unpack(fields))

-- Increment the post count of the user.
redis.call('HINCRBY', user, 'posts', 1)

-- Return the ID of the status message.
return id
