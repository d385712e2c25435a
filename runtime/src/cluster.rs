//! What a call needs on Redis Cluster before it is sent: its keys in one
//! slot, and a key to route a writing script by.
//!
//! # How a call knows it is on a cluster
//!
//! `invoke` and `invoke_async` take any `C: ConnectionLike + ?Sized`, with
//! no `'static` bound, so `Any` cannot tell the connection's type. Its
//! [`std::any::type_name`] can: redis-rs's two cluster connections (sync
//! and async) are recognised by name, with their generic parameters cut
//! off. The name is a compile-time constant, so for every other
//! connection the test folds to `false` and the single-server path pays
//! nothing: no slot is hashed, no key looked at. A wrapper type (a pool's
//! connection, [`RoundTrips`](crate::testing::RoundTrips)) is not
//! recognised: its calls go out unchecked and the server's `CROSSSLOT` or
//! `non local key` answers them, as without this check (nothing runs then
//! either). The test `cluster_connections_are_recognised_by_name` fails if
//! redis-rs renames its types.
//!
//! Slots are redis-rs's own ([`redis::cluster_routing::Slot::for_key`],
//! CRC16 with the `{hash tag}` rule), so redlua and the cluster client
//! always agree on where a key lives.

use redis::cluster_routing::Slot;
use redis::{Cmd, RedisResult, Value};

use crate::call::{load_cmd, Call};
use crate::error::classify;
use crate::error::{ClusterError, ClusterRefusal, Error};
use crate::Script;

/// `type_name` of `redis::cluster::ClusterConnection`, without generics.
const SYNC_CLUSTER: &str = "redis::cluster_handling::sync_connection::ClusterConnection";
/// `type_name` of `redis::cluster_async::ClusterConnection`, without generics.
const ASYNC_CLUSTER: &str = "redis::cluster_handling::async_connection::ClusterConnection";

/// True when `C` is one of redis-rs's cluster connections.
#[inline(always)]
pub(crate) fn is_cluster<C: ?Sized>() -> bool {
    let name = std::any::type_name::<C>();
    let is = |base: &str| {
        name.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('<'))
    };
    is(SYNC_CLUSTER) || is(ASYNC_CLUSTER)
}

/// `con` as a `T`, when `C` is exactly `T`. `typeid::of` gives a `TypeId`
/// without the `'static` bound `C` does not have; `T: 'static` has no
/// lifetime that erasure could hide, so an equal id means `C` is `T`.
fn downcast<C: ?Sized, T: 'static>(con: &mut C) -> Option<&mut T> {
    if typeid::of::<C>() != std::any::TypeId::of::<T>() {
        return None;
    }
    // SAFETY: `C` and `T` are the same type (above), so the pointer is to
    // a valid, uniquely borrowed `T` for the borrow's lifetime.
    Some(unsafe { &mut *(con as *mut C).cast::<T>() })
}

/// The connection as redis-rs's async cluster connection (with its default
/// node connection), when it is exactly that type: a batch split by slot
/// clones it to send its parts concurrently.
#[cfg(feature = "cluster-async")]
pub(crate) fn as_async_cluster<C: ?Sized>(
    con: &mut C,
) -> Option<&mut redis::cluster_async::ClusterConnection> {
    downcast(con)
}

/// The connection as redis-rs's sync cluster connection, when it is
/// exactly that type: [`crate::load`] loads every node through it.
pub(crate) fn as_sync_cluster<C: ?Sized>(
    con: &mut C,
) -> Option<&mut redis::cluster::ClusterConnection> {
    downcast(con)
}

/// How many redirects given back by redis-rs one request follows.
#[cfg(feature = "cluster-async")]
const HOPS: usize = 3;

/// When redis-rs hands back a redirect it did not follow (its `retries` are
/// spent, or set to 0), sends `wire` again to the node named, `ASKING`
/// first for an `ASK`, at most [`HOPS`] times. A redirect means the node
/// ran nothing, and `wire` is one command or one transaction (a batch
/// part), so that resend is the first run. Only on redis-rs's own async
/// cluster connection (which can route to a node by address); any other
/// reply is returned as it is.
#[cfg(feature = "cluster-async")]
pub(crate) async fn follow_redirects<C: ?Sized>(
    con: &mut C,
    wire: &redis::Pipeline,
    mut reply: RedisResult<Vec<Value>>,
) -> RedisResult<Vec<Value>> {
    use redis::cluster_routing::SingleNodeRoutingInfo;
    use redis::{ErrorKind, ServerErrorKind};

    if !matches!(&reply, Err(e) if e.redirect_node().is_some()) {
        return reply;
    }
    let Some(con) = as_async_cluster(con) else {
        return reply;
    };
    for _ in 0..HOPS {
        let Err(e) = &reply else { break };
        let ask = e.kind() == ErrorKind::Server(ServerErrorKind::Ask);
        let Some((host, port)) = e
            .redirect_node()
            .and_then(|(addr, _)| addr.rsplit_once(':'))
            .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        else {
            break;
        };
        let mut resend = redis::Pipeline::with_capacity(wire.len() + 1);
        if ask {
            resend.add_command(redis::cmd("ASKING"));
        }
        for cmd in wire.cmd_iter() {
            resend.add_command(cmd.clone());
        }
        let route = SingleNodeRoutingInfo::ByAddress { host, port };
        reply = con
            .route_pipeline(resend, usize::from(ask), wire.len(), route)
            .await;
    }
    reply
}

/// [`follow_redirects`] for a single command's reply.
#[cfg(feature = "aio")]
#[inline]
pub(crate) async fn follow_redirect<C: ?Sized>(
    con: &mut C,
    cmd: &Cmd,
    reply: RedisResult<Value>,
) -> RedisResult<Value> {
    #[cfg(feature = "cluster-async")]
    if matches!(&reply, Err(e) if e.redirect_node().is_some()) && is_cluster::<C>() {
        let mut wire = redis::Pipeline::with_capacity(1);
        wire.add_command(cmd.clone());
        return follow_redirects(con, &wire, reply.map(|v| vec![v]))
            .await
            .map(|mut v| v.pop().unwrap_or(Value::Nil));
    }
    let _ = (con, cmd);
    reply
}

/// Refuses, before sending, a call the cluster cannot run as written: keys
/// in more than one slot, or a writing script without keys. A no-op (and
/// free) on any other connection.
#[inline(always)]
pub(crate) fn check_call<C: ?Sized>(script: &'static Script, cmd: &Cmd) -> Result<(), Error> {
    if is_cluster::<C>() {
        check_on_cluster(script, cmd)
    } else {
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn check_on_cluster(script: &'static Script, cmd: &Cmd) -> Result<(), Error> {
    let keys = script_keys(cmd);
    if keys.is_empty() {
        if script.writes_without_keys() {
            return Err(refusal(script, ClusterRefusal::KeylessWrite, Vec::new()));
        }
        return Ok(());
    }
    if one_slot(&keys) {
        return Ok(());
    }
    let keys = keys.iter().map(|k| (k.to_vec(), slot_number(k))).collect();
    Err(refusal(script, ClusterRefusal::CrossSlot, keys))
}

/// The declared keys of a script call: `EVALSHA[_RO] sha numkeys keys...
/// args...` (`FCALL[_RO] name ...` for a function), as `Builder` writes it.
pub(crate) fn script_keys(cmd: &Cmd) -> Vec<&[u8]> {
    script_key_iter(cmd).collect()
}

/// [`script_keys`] without collecting them.
pub(crate) fn script_key_iter(cmd: &Cmd) -> impl Iterator<Item = &[u8]> + Clone {
    let args = || {
        cmd.args_iter().map(|a| match a {
            redis::Arg::Simple(a) => a,
            _ => &[][..],
        })
    };
    let numkeys = args()
        .nth(2)
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    args().skip(3).take(numkeys)
}

/// True when every key hashes to the slot of the first.
pub(crate) fn one_slot<K: AsRef<[u8]>>(keys: &[K]) -> bool {
    if keys.len() < 2 {
        return true;
    }
    let mut slots = keys.iter().map(|k| Slot::for_key(k.as_ref()));
    let first = slots.next();
    slots.all(|s| Some(s) == first)
}

/// Why a script call cannot run on a cluster as written, if it cannot:
/// [`check_on_cluster`] for a call queued in a batch.
#[cfg(feature = "aio")]
pub(crate) fn refused_entry(script: &'static Script, cmd: &Cmd) -> Option<Error> {
    check_on_cluster(script, cmd).err()
}

/// True when the load + call batch of a miss could not heal on the node it
/// reached, so the load must go elsewhere and the call after it:
///
/// - it ended on a redirect: the slot is migrating and the batch, sent to
///   the slot's owner, was sent on (`ASK`) to a node that lacks the script,
///   or bounced between the two until the client gave up;
/// - the load was refused `READONLY`: a read-only function's `FCALL_RO`
///   went to a replica (`read_from_replicas`), which cannot take
///   `FUNCTION LOAD`; its libraries come from its primary.
///
/// Neither reply ran the call, so it may be sent again.
pub(crate) fn load_elsewhere(replies: &RedisResult<Vec<Value>>) -> bool {
    let redirect = |code: Option<&str>| matches!(code, Some("ASK" | "MOVED"));
    match replies {
        Err(e) => redirect(e.code()) || e.code() == Some("READONLY"),
        Ok(replies) => {
            matches!(replies.first(), Some(Value::ServerError(e)) if e.code() == "READONLY")
                || replies.iter().any(|r| match r {
                    Value::ServerError(e) => redirect(Some(e.code())),
                    _ => false,
                })
        }
    }
}

/// Where the call goes after [`load_elsewhere`]'s load: the primary of its
/// first key's slot (a replica may not have the function yet, as
/// replication lags), when the connection is redis-rs's own cluster
/// connection; else wherever the client routes it.
fn on_primary(cmd: &Cmd) -> redis::cluster_routing::RoutingInfo {
    use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
    RoutingInfo::SingleNode(match script_keys(cmd).first() {
        Some(key) => SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master)),
        None => SingleNodeRoutingInfo::RandomPrimary,
    })
}

/// The heal of [`load_elsewhere`]: the load alone, which the cluster
/// client sends to every node (`SCRIPT LOAD`) or every primary
/// (`FUNCTION LOAD`; the importing node of a migration is one), then the
/// call alone on its slot's primary, which the client follows after an
/// `ASK` with `ASKING`.
impl<T> Call<T> {
    /// True when a miss must heal through [`Call::load_everywhere`] from
    /// the start: a read-only function's `FCALL_RO` may be routed to a
    /// replica (`read_from_replicas`), and a load + call batch sent there
    /// is refused `READONLY` (redis-rs retries that, refreshing its slot
    /// map each time, before giving up).
    pub(crate) fn heals_on_primaries<C: ?Sized>(&self) -> bool {
        is_cluster::<C>() && self.script.is_function() && self.script.is_read_only()
    }

    pub(crate) fn load_everywhere_and_call<C>(&self, con: &mut C) -> Result<T, Error>
    where
        C: redis::ConnectionLike + ?Sized,
    {
        self.load_everywhere(con)?;
        self.call_on_primary(con)
    }

    /// The load alone: `SCRIPT LOAD` goes to every node, `FUNCTION LOAD`
    /// to every primary.
    pub(crate) fn load_everywhere<C>(&self, con: &mut C) -> Result<(), Error>
    where
        C: redis::ConnectionLike + ?Sized,
    {
        let loaded = con.req_packed_command(&load_cmd(self.script).get_packed_command());
        self.loaded(loaded)
    }

    /// The call alone, on its slot's primary.
    pub(crate) fn call_on_primary<C>(&self, con: &mut C) -> Result<T, Error>
    where
        C: redis::ConnectionLike + ?Sized,
    {
        let reply = match as_sync_cluster(con) {
            Some(cluster) => cluster.route_command(&self.cmd, on_primary(&self.cmd)),
            None => con.req_packed_command(&self.cmd.get_packed_command()),
        };
        self.finish(reply)
    }

    #[cfg(feature = "aio")]
    pub(crate) async fn load_everywhere_and_call_async<C>(&self, con: &mut C) -> Result<T, Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        self.load_everywhere_async(con).await?;
        self.call_on_primary_async(con).await
    }

    /// [`Call::load_everywhere`] on an async connection.
    #[cfg(feature = "aio")]
    pub(crate) async fn load_everywhere_async<C>(&self, con: &mut C) -> Result<(), Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        let loaded = con.req_packed_command(&load_cmd(self.script)).await;
        self.loaded(loaded)
    }

    /// [`Call::call_on_primary`] on an async connection.
    #[cfg(feature = "aio")]
    pub(crate) async fn call_on_primary_async<C>(&self, con: &mut C) -> Result<T, Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        #[cfg(feature = "cluster-async")]
        let reply = match as_async_cluster(con) {
            Some(cluster) => {
                cluster
                    .route_command(self.cmd.clone(), on_primary(&self.cmd))
                    .await
            }
            None => con.req_packed_command(&self.cmd).await,
        };
        #[cfg(not(feature = "cluster-async"))]
        let reply = con.req_packed_command(&self.cmd).await;
        self.finish(follow_redirect(con, &self.cmd, reply).await)
    }

    /// The `SCRIPT LOAD`'s refusal, if any (its SHA1 is the compile-time
    /// one; a mismatch would show as `NOSCRIPT` on the call).
    fn loaded(&self, reply: RedisResult<Value>) -> Result<(), Error> {
        match reply {
            Ok(Value::ServerError(e)) => Err(classify::from_server_error(self.script, &e)),
            Ok(_) => Ok(()),
            Err(e) => Err(classify::from_redis(self.script, e)),
        }
    }
}

fn refusal(script: &'static Script, kind: ClusterRefusal, keys: Vec<(Vec<u8>, u16)>) -> Error {
    Error::Cluster(Box::new(ClusterError { script, kind, keys }))
}

/// The hash slot of `key` as a number, for people to read. redis-rs keeps
/// the number of a [`Slot`] private; its `Debug` is `Slot(N)`. Only an
/// error's text needs the number (the check itself compares `Slot`s), and
/// a test checks it against the server's `CLUSTER KEYSLOT`.
pub(crate) fn slot_number(key: &[u8]) -> u16 {
    let debug = format!("{:?}", Slot::for_key(key));
    debug
        .trim_start_matches("Slot(")
        .trim_end_matches(')')
        .parse()
        .unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_numbers_are_the_servers() {
        // Known CLUSTER KEYSLOT answers.
        assert_eq!(slot_number(b"foo"), 12182);
        assert_eq!(slot_number(b"bar"), 5061);
        assert_eq!(
            slot_number(b"{user1000}.following"),
            slot_number(b"user1000")
        );
        assert_eq!(slot_number(b"{}foo"), 9500);
    }

    #[test]
    fn cluster_connections_are_recognised_by_name() {
        assert!(is_cluster::<redis::cluster::ClusterConnection>());
        assert!(is_cluster::<
            redis::cluster::ClusterConnection<redis::Connection>,
        >());
        #[cfg(feature = "cluster-async")]
        assert!(is_cluster::<redis::cluster_async::ClusterConnection>());
    }

    #[test]
    fn only_the_cluster_connections_are_cast() {
        let mut not = crate::call::tests_support::Unreachable;
        assert!(as_sync_cluster(&mut not).is_none());
        let mut dynamic: Box<dyn redis::ConnectionLike> = Box::new(not);
        assert!(as_sync_cluster(dynamic.as_mut()).is_none());
        #[cfg(feature = "cluster-async")]
        assert!(as_async_cluster(dynamic.as_mut()).is_none());
    }

    #[test]
    fn single_server_connections_are_not_clusters() {
        assert!(!is_cluster::<redis::Connection>());
        assert!(!is_cluster::<redis::aio::MultiplexedConnection>());
        assert!(!is_cluster::<dyn redis::ConnectionLike>());
        assert!(!is_cluster::<crate::call::tests_support::Unreachable>());
    }
}
