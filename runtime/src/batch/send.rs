//! Sending a batch: packs it for the wire (`MULTI`/`EXEC`, the
//! `SCRIPT LOAD`s, the entries) and sends it in one round trip on a sync or
//! async connection.

use redis::Value;
#[cfg(feature = "aio")]
use redis::{ErrorKind, ServerErrorKind};

use super::pipeline::{Item, Pipeline};
use super::results::Results;
use crate::call::LoadingWait;
use crate::error::classify;
use crate::error::Error;
use crate::load::write_load;
use crate::trace;

const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

impl Pipeline {
    /// Runs the batch on a sync connection, in one round trip.
    ///
    /// `Ok` means every entry was executed by the server; each entry's own
    /// result (which may be an error the entry raised) is read with
    /// [`Results::get`]. `Err` is:
    ///
    /// - [`Error::Encode`] when an argument could not be encoded; nothing
    ///   was sent;
    /// - [`Error::Batch`] when the batch did not run as a whole: some
    ///   entries were answered `NOSCRIPT` ([`BatchFailure::NoScript`](crate::BatchFailure::NoScript)), the
    ///   transaction was discarded or aborted, or the connection failed.
    ///   [`BatchError`](crate::BatchError) says which entries ran. On a sync
    ///   `redis::cluster::ClusterConnection` nothing is sent
    ///   ([`BatchFailure::NotSent`](crate::BatchFailure::NotSent)): that client resends a whole batch after
    ///   a redirect, which would run entries twice; use the async cluster
    ///   connection, which splits the batch by slot and runs each entry at
    ///   most once.
    ///
    /// A server that refuses the whole batch with `LOADING` (it is loading
    /// its dataset; no entry ran) is sent the batch again with a bounded
    /// backoff, for up to [`loading_timeout`](crate::loading_timeout) in
    /// all, as a single call would be.
    ///
    /// ```no_run
    /// use redlua::redis_script;
    ///
    /// #[redis_script("multiply.lua")]
    /// fn multiply(key: &str, multiplier: i64) -> i64;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// let a = p.add(multiply("a", 2));
    /// match p.query(&mut con) {
    ///     Ok(results) => println!("a = {:?}", results.get(a)),
    ///     Err(redlua::Error::Batch(e)) => eprintln!("ran {:?}, not run {:?}", e.ran(), e.not_run()),
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn query<C>(&self, con: &mut C) -> Result<Results, Error>
    where
        C: redis::ConnectionLike + ?Sized,
    {
        trace::sync(|| self.span(), || self.run(con))
    }

    /// [`Pipeline::query`] without its span.
    fn run<C>(&self, con: &mut C) -> Result<Results, Error>
    where
        C: redis::ConnectionLike + ?Sized,
    {
        self.check_encoded()?;
        if self.items.is_empty() {
            return Ok(self.empty_results());
        }
        if !con.supports_pipelining() {
            return Err(self.not_sent(SYNC_CLUSTER, None));
        }
        let packed = self.packed();
        let mut wait = LoadingWait::new();
        loop {
            let replies = con.req_packed_commands(&packed, 0, self.wire_len());
            if self.refused_loading(&replies) {
                if let Some(pause) = wait.next_pause() {
                    std::thread::sleep(pause);
                    continue;
                }
            }
            return self.finish(replies);
        }
    }

    #[cfg(feature = "aio")]
    /// Runs the batch on an async connection (`MultiplexedConnection`,
    /// `ConnectionManager`, the async cluster connection, ...), in one round
    /// trip; same results and errors as [`Pipeline::query`].
    ///
    /// On redis-rs's async Redis Cluster connection the keys may live on
    /// any nodes: the batch is split into one part per slot (a single entry
    /// sent alone, several as a `MULTI`/`EXEC` loading its own scripts), the
    /// parts are sent concurrently, and the replies come back in the
    /// caller's order. Every entry runs at most once, through
    /// redirects and resharding; a part the cluster refused is reported
    /// entry by entry ([`BatchFailure::Cluster`](crate::BatchFailure::Cluster)). An [atomic](Pipeline::atomic)
    /// batch must stay in one slot; across slots nothing is sent
    /// ([`BatchFailure::NotSent`](crate::BatchFailure::NotSent)). See the
    /// guide's [Redis Cluster](crate::guide::cluster) chapter.
    ///
    /// ```no_run
    /// use redlua::redis_script;
    ///
    /// #[redis_script("multiply.lua")]
    /// fn multiply(key: &str, multiplier: i64) -> i64;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1/")?;
    /// let mut con = client.get_multiplexed_async_connection().await?;
    /// let mut p = redlua::pipe();
    /// p.atomic();
    /// let a = p.add(multiply("a", 2));
    /// let a = p.query_async(&mut con).await?.get(a)?;
    /// # Ok(()) }
    /// ```
    pub async fn query_async<C>(&self, con: &mut C) -> Result<Results, Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        #[cfg(feature = "tracing")]
        return trace::future(|| self.span(), self.run_async(con)).await;
        #[cfg(not(feature = "tracing"))]
        self.run_async(con).await
    }

    /// [`Pipeline::query_async`] without its span.
    #[cfg(feature = "aio")]
    async fn run_async<C>(&self, con: &mut C) -> Result<Results, Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        self.check_encoded()?;
        if self.items.is_empty() {
            return Ok(self.empty_results());
        }
        if crate::cluster::is_cluster::<C>() {
            return self.run_on_cluster(con).await;
        }
        let wire = self.wire();
        let mut wait = LoadingWait::new();
        let replies = loop {
            let replies = con.req_packed_commands(&wire, 0, wire.len()).await;
            if !self.refused_loading(&replies) || !wait.next_pause_async().await {
                break replies;
            }
        };
        match replies {
            // Only the async cluster client raises CROSSSLOT for a whole
            // batch, and it does so before sending anything.
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::CrossSlot) => {
                Err(self.not_sent(CROSS_SLOT, Some(e)))
            }
            replies => self.finish(replies),
        }
    }

    /// True when the server refused the whole batch with `LOADING`, so no
    /// entry ran: every reply is `LOADING` or, for a transaction, `MULTI`
    /// was accepted, every queued command refused with `LOADING` and `EXEC`
    /// answered `EXECABORT`.
    fn refused_loading(&self, replies: &redis::RedisResult<Vec<Value>>) -> bool {
        // A batch's server errors arrive as values; an error raised for the
        // whole batch (I/O, protocol) says nothing of each entry, so it is
        // never a reason to send the batch again.
        let Ok(replies) = replies else {
            return false;
        };
        if replies.len() != self.wire_len() || replies.is_empty() {
            return false;
        }
        if !self.atomic {
            return replies.iter().all(classify::is_loading);
        }
        let (first, rest) = (&replies[0], &replies[1..]);
        let Some((exec, queued)) = rest.split_last() else {
            return false;
        };
        !matches!(first, Value::ServerError(_))
            && !queued.is_empty()
            && queued.iter().all(classify::is_loading)
            && matches!(exec, Value::ServerError(e) if e.code() == "EXECABORT")
    }

    fn check_encoded(&self) -> Result<(), Error> {
        for item in &self.items {
            if let Item::Script {
                script,
                error: Some(e),
                ..
            } = item
            {
                return Err(classify::encode(script, e.0, e.1.clone()));
            }
        }
        Ok(())
    }

    fn packed(&self) -> Vec<u8> {
        let loads = self.loads();
        let mut buf = Vec::with_capacity(
            loads
                .iter()
                .map(|s| s.load_text().len() + 48)
                .sum::<usize>()
                + 64 * self.items.len(),
        );
        if self.atomic {
            buf.extend_from_slice(MULTI);
        }
        for script in loads {
            write_load(&mut buf, script);
        }
        for item in &self.items {
            item.cmd().write_packed_command(&mut buf);
        }
        if self.atomic {
            buf.extend_from_slice(EXEC);
        }
        buf
    }

    /// The batch as a plain `redis::Pipeline` (MULTI/EXEC written out, so
    /// every reply, QUEUED ones included, comes back).
    #[cfg(feature = "aio")]
    pub(super) fn wire(&self) -> redis::Pipeline {
        let mut wire = redis::Pipeline::with_capacity(self.wire_len());
        if self.atomic {
            wire.add_command(redis::cmd("MULTI"));
        }
        for script in self.loads() {
            wire.add_command(crate::call::load_cmd(script));
        }
        for item in &self.items {
            wire.add_command(item.cmd().clone());
        }
        if self.atomic {
            wire.add_command(redis::cmd("EXEC"));
        }
        wire
    }

    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    fn span(&self) -> trace::Span {
        trace::batch(
            self.items.len(),
            &self.scripts,
            self.loads().len(),
            self.atomic,
        )
    }

    fn empty_results(&self) -> Results {
        Results {
            pipe: self.id,
            slots: Vec::new(),
        }
    }
}

const SYNC_CLUSTER: &str = "this connection does not take batches (a sync \
    redis::cluster::ClusterConnection resends a whole batch after a MOVED, ASK or TRYAGAIN \
    reply, which would run entries twice); run the batch on the async cluster connection, \
    which splits it by slot and runs each entry at most once, or send the calls one by one \
    with invoke";

#[cfg(feature = "aio")]
const CROSS_SLOT: &str = "on Redis Cluster the keys of one batch must hash to one slot: \
    give them a common {hash tag}, or split the batch";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::pipe;
    use crate::batch::tests_support::{count, COUNT};
    use crate::call::{Builder, Call};

    #[test]
    fn sync_and_async_encodings_are_the_same_bytes() {
        for (atomic, assume_loaded) in [(false, false), (true, false), (false, true), (true, true)]
        {
            let mut p = pipe();
            if atomic {
                p.atomic();
            }
            if assume_loaded {
                p.assume_loaded();
            }
            p.add(count("a"));
            p.cmd(redis::cmd("SET").arg("k").arg("v"));
            p.add(count("b"));
            assert_eq!(p.scripts().len(), 1);
            assert_eq!(p.packed(), p.wire().get_packed_pipeline());
            let expected = 3 + usize::from(!assume_loaded) + if atomic { 2 } else { 0 };
            assert_eq!(p.wire_len(), expected);
            assert_eq!(p.wire().len(), expected);
        }
    }

    #[test]
    fn an_encode_error_sends_nothing() {
        let mut b = Builder::new(&COUNT, 1, 1);
        b.push(b"a");
        b.fail("attrs", "key must be a string".into());
        let call: Call<i64> = b.finish(crate::decode::int);
        let mut p = pipe();
        p.add(count("ok"));
        p.add(call);
        let err = p
            .query(&mut crate::call::tests_support::Unreachable)
            .unwrap_err();
        assert!(matches!(err, Error::Encode(_)), "{err:?}");
    }

    /// The futures can be spawned on a multi-threaded runtime.
    #[allow(dead_code)]
    fn futures_are_send<'a>(
        p: &'a Pipeline,
        con: &'a mut redis::aio::MultiplexedConnection,
    ) -> impl std::future::Future<Output = Result<Results, Error>> + Send + 'a {
        p.query_async(con)
    }

    #[allow(dead_code)]
    fn load_futures_are_send(
        con: &mut redis::aio::MultiplexedConnection,
    ) -> impl std::future::Future<Output = Result<usize, Error>> + Send + '_ {
        crate::load_all_async(con)
    }
}
