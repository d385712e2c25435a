use redlua::redis_script;

struct Queue;

impl Queue {
    // Associated functions work; a receiver does not.
    #[redis_script("multiply.lua")]
    fn multiply(&self, key: &str, multiplier: i64) -> i64;

    // A mistake in an impl is one error, as at module level.
    #[redis_script("ui/params.lua")]
    fn params(user: &str, size: i64) -> i64;

    #[redis_script("multiply.lua")]
    pub fn fine(key: &str, multiplier: i64) -> i64;
}

fn main() {
    let _ = Queue::fine("k", 2);
    let _ = Queue::FINE;
    let _ = Queue::params("u", 1);
}
