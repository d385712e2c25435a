//! A batch on redis-rs's async cluster connection: split into parts that
//! each run on one node, sent concurrently, the replies put back in the
//! caller's order.
//!
//! # Why each part is a `MULTI`/`EXEC` of one slot
//!
//! redis-rs's async cluster client resends a whole pipeline when any of its
//! replies is `MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`, `LOADING` or
//! `READONLY`. For a plain pipeline that reruns the entries that did run
//! (measured: an `INCR` ran 9 times during a slot migration). Inside a
//! transaction those refusals come back while the commands are being
//! queued, or from `EXEC` itself, and then Redis discards the transaction:
//! nothing in it ran, so the client's resend (to the node the redirect
//! names, or after a topology refresh) is the first run, not a second. A
//! transaction cannot span slots, so a part is the entries of one slot;
//! and since entries in different slots share no key, sending the parts in
//! any order cannot change what an entry reads. Entries that share a key
//! stay in one part, in the caller's order.
//!
//! A part of one entry needs no transaction: it is sent as a single call
//! (the command alone, which redis-rs may resend safely, since a refusal
//! means it did not run), and only if the node lacks the script, as the
//! transaction that loads it. So a batch whose entries are all in different
//! slots costs what the same calls sent all at once cost.
//!
//! While a slot migrates, its keys can be split between two nodes, and
//! Redis refuses a transaction over keys on both sides (`TRYAGAIN`) until
//! the migration ends; redis-rs retries that with its backoff. When such a
//! part comes back refused, it did not run, and it is sent again split by
//! key (entries linked by shared keys stay together), so each entry runs
//! where its keys are.
//!
//! Entries without keys (`PING`, a read-only script without `%key`) form
//! one more part, sent to a node redis-rs picks.
//!
//! When redis-rs gives a redirect back instead of following it (its
//! `retries` are spent, or set to 0), the part, which did not run, is sent
//! to the node named (`crate::cluster::follow_redirects`).

use std::borrow::Cow;
use std::collections::HashMap;

use redis::cluster_routing::Slot as HashSlot;
use redis::{ErrorKind, RedisError, RedisResult, ServerErrorKind, Value};

use super::pipeline::{same_script, Item, Pipeline};
use super::report::{BatchError, BatchFailure, EntryReport, EntryStatus};
use super::results::{Results, Slot};
use crate::cluster::{one_slot, refused_entry, script_key_iter, slot_number};
use crate::error::{classify, Error, Outcome};

/// Each entry's keys, borrowed from a script call's command or found for a
/// plain command.
type Keys<'a> = Vec<Vec<Cow<'a, [u8]>>>;

impl Pipeline {
    /// [`Pipeline::query_async`] on a cluster connection.
    pub(super) async fn run_on_cluster<C>(&self, con: &mut C) -> Result<Results, Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        let keys = self.keys(con).await?;
        self.refuse_unsendable(&keys)?;
        let groups = self.groups(&keys, Split::BySlot);
        let mut sent = send(con, self, &groups).await;
        // A part refused because a migration split its keys ran nothing:
        // send its entries again, key by key.
        let mut again = Vec::new();
        for (k, group) in groups.iter().enumerate() {
            if !self.atomic && group.len() > 1 && tried_again(&sent[k]) {
                let sub: Keys<'_> = group.iter().map(|&i| keys[i].clone()).collect();
                let split = self.groups_of(group, &sub, Split::ByKey);
                if split.len() > 1 {
                    again.push((k, split));
                }
            }
        }
        let mut groups = groups;
        for (k, split) in again.into_iter().rev() {
            let resent = send(con, self, &split).await;
            groups.splice(k..=k, split);
            sent.splice(k..=k, resent);
        }
        self.merge(&groups, sent)
    }

    /// Each entry's keys: a script's declared keys, a command's from the
    /// server's command table.
    async fn keys<C>(&self, con: &mut C) -> Result<Keys<'_>, Error>
    where
        C: redis::aio::ConnectionLike + ?Sized,
    {
        let cmds: Vec<&redis::Cmd> = self
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Cmd(c) => Some(c),
                Item::Script { .. } => None,
            })
            .collect();
        let mut cmd_keys = if cmds.is_empty() {
            Vec::new()
        } else {
            crate::command_keys::keys_of(con, &cmds)
                .await
                .map_err(|e| self.not_sent(COMMAND_TABLE, Some(e)))?
        }
        .into_iter();
        Ok(self
            .items
            .iter()
            .map(|item| match item {
                Item::Script { cmd, .. } => script_key_iter(cmd).map(Cow::Borrowed).collect(),
                Item::Cmd(_) => cmd_keys
                    .next()
                    .unwrap_or_default()
                    .into_iter()
                    .map(Cow::Owned)
                    .collect(),
            })
            .collect())
    }

    /// Refuses, before anything is sent, an entry no node can run (keys in
    /// two slots, a writing script without keys) and an atomic batch over
    /// more than one slot.
    fn refuse_unsendable(&self, keys: &Keys<'_>) -> Result<(), Error> {
        for (i, (item, keys)) in self.items.iter().zip(keys).enumerate() {
            let why = match item {
                Item::Script { script, cmd, .. }
                    if !one_slot(keys) || (keys.is_empty() && script.writes_without_keys()) =>
                {
                    refused_entry(script, cmd).map(|e| e.to_string())
                }
                Item::Script { .. } => None,
                Item::Cmd(cmd) if !one_slot(keys) => Some(format!(
                    "`{}`: its keys hash to different slots ({}), which no single node serves",
                    super::settle::command_name(cmd),
                    listed(keys.iter())
                )),
                Item::Cmd(_) => None,
            };
            if let Some(why) = why {
                return Err(
                    self.not_sent(&format!("entry #{i} cannot run on a cluster: {why}"), None)
                );
            }
        }
        if !self.atomic {
            return Ok(());
        }
        let all: Vec<&[u8]> = keys.iter().flatten().map(|k| k.as_ref()).collect();
        if !one_slot(&all) {
            let mut seen: Vec<&[u8]> = Vec::new();
            for key in all {
                if !seen
                    .iter()
                    .any(|k| HashSlot::for_key(k) == HashSlot::for_key(key))
                {
                    seen.push(key);
                }
            }
            let why = format!(
                "{ATOMIC_CROSS_SLOT} (keys {})",
                listed(seen.into_iter().take(4))
            );
            return Err(self.not_sent(&why, None));
        }
        Ok(())
    }

    /// The entries of each part, in the caller's order: all of them for an
    /// atomic batch; else one part per slot (or per group of entries
    /// linked by shared keys), then the entries without keys.
    fn groups(&self, keys: &Keys<'_>, split: Split) -> Vec<Vec<usize>> {
        if self.atomic {
            return vec![(0..self.items.len()).collect()];
        }
        let all: Vec<usize> = (0..self.items.len()).collect();
        self.groups_of(&all, keys, split)
    }

    /// [`Pipeline::groups`] of the entries `which` (`keys[k]` are the keys
    /// of entry `which[k]`).
    fn groups_of(&self, which: &[usize], keys: &Keys<'_>, split: Split) -> Vec<Vec<usize>> {
        // Union-find over entries, joined through a slot or key they share.
        let mut parent: Vec<usize> = (0..keys.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        // The entry that first used each link. A batch is usually small:
        // a linear scan beats hashing up to a few dozen links.
        let mut owner = Owners::default();
        for (i, keys) in keys.iter().enumerate() {
            for key in keys {
                let link = match split {
                    Split::BySlot => Link::Slot(HashSlot::for_key(key.as_ref())),
                    Split::ByKey => Link::Key(key.as_ref()),
                };
                if let Some(j) = owner.get_or_insert(link, i) {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        let mut groups: Vec<Vec<usize>> = Vec::new();
        // The group of each root (roots are entry positions).
        let mut group_of = vec![usize::MAX; keys.len()];
        let mut keyless = Vec::new();
        for i in 0..keys.len() {
            if keys[i].is_empty() {
                keyless.push(which[i]);
                continue;
            }
            let r = root(&mut parent, i);
            if group_of[r] == usize::MAX {
                group_of[r] = groups.len();
                groups.push(Vec::new());
            }
            groups[group_of[r]].push(which[i]);
        }
        if !keyless.is_empty() {
            groups.push(keyless);
        }
        groups
    }

    /// The entries `group` as a batch of their own: a transaction loading
    /// its own scripts, or (`single`) the one entry alone, without loads.
    fn part(&self, group: &[usize], single: bool) -> Pipeline {
        let items: Vec<Item> = group.iter().map(|&i| self.items[i].clone()).collect();
        let mut scripts: Vec<&'static crate::Script> = Vec::new();
        for script in items.iter().filter_map(Item::script) {
            if !scripts.iter().any(|s| same_script(s, script)) {
                scripts.push(script);
            }
        }
        Pipeline {
            id: self.id,
            items,
            scripts,
            atomic: !single,
            assume_loaded: single || self.assume_loaded,
        }
    }

    /// Puts the parts' outcomes back in the caller's order: `Ok` when every
    /// part ran, else one [`BatchError`] over all entries.
    fn merge(&self, groups: &[Vec<usize>], sent: Vec<Sent>) -> Result<Results, Error> {
        let n = self.items.len();
        let mut slots: Vec<Slot> = vec![Slot::Taken; n];
        // Reports only for the entries of failed parts: the rest ran, and
        // are only reported if some part failed.
        let mut entries: Vec<Option<EntryReport>> = Vec::new();
        let mut first: Option<BatchError> = None;
        let mut failed = 0;
        let mut load_failures = Vec::new();
        let nparts = sent.len();
        for (group, sent) in groups.iter().zip(sent) {
            let settled = match sent {
                Sent::Ran(v) => {
                    slots[group[0]] = Slot::Reply(v);
                    continue;
                }
                Sent::Part(part, Err(e)) if refused_by_cluster(&e) => Err(part.refused(e)),
                Sent::Part(part, reply) => part.finish(reply),
            };
            match settled {
                Ok(results) => {
                    for (&i, slot) in group.iter().zip(results.slots) {
                        slots[i] = slot;
                    }
                }
                Err(Error::Batch(e)) => {
                    failed += 1;
                    entries.resize(n, None);
                    let mut e = *e;
                    let mut got = e.results.take().map(|r| r.slots.into_iter());
                    for (&i, mut report) in group.iter().zip(e.entries.iter().cloned()) {
                        slots[i] = got.as_mut().and_then(Iterator::next).unwrap_or_else(|| {
                            Slot::NotRun(
                                report
                                    .reason
                                    .clone()
                                    .unwrap_or_else(|| format!("{:?}", report.outcome)),
                            )
                        });
                        report.index = i;
                        entries[i] = Some(report);
                    }
                    load_failures.append(&mut e.load_failures);
                    first.get_or_insert(e);
                }
                Err(other) => return Err(other),
            }
        }
        let Some(first) = first else {
            return Ok(Results {
                pipe: self.id,
                slots,
            });
        };
        let entries: Vec<EntryReport> = entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.unwrap_or_else(|| self.report(i, Outcome::Ran, None)))
            .collect();
        let any_ran = entries.iter().any(|e| e.outcome == Outcome::Ran);
        let detail = match (nparts, first.detail) {
            (1, detail) => detail,
            (k, detail) => Some(format!(
                "{failed} of the {k} parts the cluster batch was split into did not run as a \
                 whole{}",
                detail
                    .map(|d| format!("; the first: {d}"))
                    .unwrap_or_default()
            )),
        };
        Err(Error::Batch(Box::new(BatchError {
            kind: first.kind,
            atomic: self.atomic,
            entries,
            load_failures,
            results: any_ran.then_some(Results {
                pipe: self.id,
                slots,
            }),
            source: first.source,
            detail,
            parts: nparts,
        })))
    }

    /// A part the cluster refused as a whole (`MOVED`, `ASK`, `TRYAGAIN`,
    /// ...) once redis-rs stopped retrying: the transaction was discarded,
    /// so none of its entries ran.
    fn refused(&self, e: RedisError) -> Error {
        let why = format!(
            "the cluster answered {} for this entry's slot (it moved or is migrating, its node \
             is down or loading, or a replica refused a write), so its part of the batch was \
             discarded; send it again",
            e.code().unwrap_or("an error")
        );
        // A server refusal: each entry `NotRun`, outcome `Refused`.
        self.batch_error(
            BatchFailure::Cluster,
            |_| (EntryStatus::NotRun, Some(why.clone())),
            Vec::new(),
            None,
            Some(e),
            Some(why.clone()),
        )
    }
}

/// True for an error that redis-rs raises for a whole pipeline when one
/// of its replies was a cluster refusal; for a transaction that means
/// nothing in it ran.
fn refused_by_cluster(e: &RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Server(
            ServerErrorKind::Moved
                | ServerErrorKind::Ask
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
                | ServerErrorKind::BusyLoading
                | ServerErrorKind::ReadOnly
        )
    )
}

/// How entries are grouped into parts.
#[derive(Clone, Copy)]
enum Split {
    /// One part per slot: the fewest round trips.
    BySlot,
    /// One part per group of entries linked by shared keys: what runs
    /// while a migration splits a slot's keys between two nodes.
    ByKey,
}

/// What links two entries into one part: a slot or a key they share.
#[derive(PartialEq, Eq, Hash, Clone, Copy)]
enum Link<'k> {
    Slot(HashSlot),
    Key(&'k [u8]),
}

/// The entry that first used each link: a list while short, then a map.
#[derive(Default)]
struct Owners<'k> {
    few: Vec<(Link<'k>, usize)>,
    many: HashMap<Link<'k>, usize>,
}

impl<'k> Owners<'k> {
    const FEW: usize = 32;

    /// The entry that used `link` before, or `None` after recording `entry`.
    fn get_or_insert(&mut self, link: Link<'k>, entry: usize) -> Option<usize> {
        if self.many.is_empty() {
            if let Some((_, j)) = self.few.iter().find(|(l, _)| *l == link) {
                return Some(*j);
            }
            if self.few.len() < Self::FEW {
                self.few.push((link, entry));
                return None;
            }
            self.many.extend(self.few.drain(..));
        }
        match self.many.entry(link) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(entry);
                None
            }
        }
    }
}

/// What sending a part gave.
enum Sent {
    /// A single entry, sent alone, ran and answered.
    Ran(Value),
    /// The part as sent (the batch whose replies they are) and its replies.
    Part(Pipeline, RedisResult<Vec<Value>>),
}

/// True when the part was refused with `TRYAGAIN`: a transaction over keys
/// that a migration has split between two nodes.
fn tried_again(sent: &Sent) -> bool {
    matches!(sent, Sent::Part(_, Err(e)) if e.kind() == ErrorKind::Server(ServerErrorKind::TryAgain))
}

/// Sends the parts `groups` of `batch`: concurrently on redis-rs's own
/// async cluster connection (cloned per part), one after the other on any
/// other connection that presents itself as a cluster.
async fn send<C>(con: &mut C, batch: &Pipeline, groups: &[Vec<usize>]) -> Vec<Sent>
where
    C: redis::aio::ConnectionLike + ?Sized,
{
    #[cfg(feature = "cluster-async")]
    if let Some(cluster) = crate::cluster::as_async_cluster(con) {
        let sends = groups.iter().map(|group| {
            let mut con = cluster.clone();
            async move { send_part(&mut con, batch, group).await }
        });
        return futures_util::future::join_all(sends).await;
    }
    let mut sent = Vec::with_capacity(groups.len());
    for group in groups {
        sent.push(send_part(con, batch, group).await);
    }
    sent
}

/// Sends one part: a single entry alone (and, if the node lacks its
/// script, as the transaction that loads it), several as a transaction.
async fn send_part<C>(con: &mut C, batch: &Pipeline, group: &[usize]) -> Sent
where
    C: redis::aio::ConnectionLike + ?Sized,
{
    if let ([i], false) = (group, batch.atomic) {
        let item = &batch.items[*i];
        let reply = match con.req_packed_command(item.cmd()).await {
            // A redirect given back means it did not run: follow it.
            Err(e) if e.redirect_node().is_some() => {
                follow(con, &batch.part(group, true).wire(), Err(e)).await
            }
            reply => reply.map(|v| vec![v]),
        };
        let missed = match (&reply, item.script()) {
            (Ok(v), Some(script)) => v.first().is_some_and(|v| {
                classify::retry_value(script, v) == Some(classify::Retry::NoScript)
            }),
            _ => false,
        };
        match reply {
            Ok(mut v) if !missed && v.len() == 1 => return Sent::Ran(v.remove(0)),
            // The node lacks the script: the transaction below loads it.
            Ok(_) if missed && !batch.assume_loaded => {}
            reply => return Sent::Part(batch.part(group, true), reply),
        }
    }
    let part = batch.part(group, false);
    let reply = send_transaction(con, &part).await;
    Sent::Part(part, reply)
}

/// Sends a part's transaction. One that loads a function goes to its
/// slot's primary: redis-rs would send a part of `FCALL_RO`s to a replica
/// (`read_from_replicas`), which refuses `FUNCTION LOAD` (`READONLY`).
async fn send_transaction<C>(con: &mut C, part: &Pipeline) -> RedisResult<Vec<Value>>
where
    C: redis::aio::ConnectionLike + ?Sized,
{
    let wire = part.wire();
    #[cfg(feature = "cluster-async")]
    if part.loads().iter().any(|s| s.is_function()) {
        let key = part.items.iter().find_map(|i| match i {
            Item::Script { cmd, .. } => script_key_iter(cmd).next().map(<[u8]>::to_vec),
            Item::Cmd(_) => None,
        });
        if let (Some(key), Some(cluster)) = (key, crate::cluster::as_async_cluster(con)) {
            use redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
            let route = SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master));
            let reply = cluster
                .route_pipeline(wire.clone(), 0, wire.len(), route)
                .await;
            return crate::cluster::follow_redirects(con, &wire, reply).await;
        }
    }
    send_wire(con, &wire).await
}

/// Sends a part's commands; on redis-rs's cluster connection, follows a
/// redirect it gives back.
async fn send_wire<C>(con: &mut C, wire: &redis::Pipeline) -> RedisResult<Vec<Value>>
where
    C: redis::aio::ConnectionLike + ?Sized,
{
    let reply = con.req_packed_commands(wire, 0, wire.len()).await;
    follow(con, wire, reply).await
}

/// [`crate::cluster::follow_redirects`] where the connection can route by
/// address (feature `cluster-async`); the reply as it is elsewhere.
async fn follow<C>(
    con: &mut C,
    wire: &redis::Pipeline,
    reply: RedisResult<Vec<Value>>,
) -> RedisResult<Vec<Value>>
where
    C: redis::aio::ConnectionLike + ?Sized,
{
    #[cfg(feature = "cluster-async")]
    return crate::cluster::follow_redirects(con, wire, reply).await;
    #[cfg(not(feature = "cluster-async"))]
    {
        let _ = (con, wire);
        reply
    }
}

fn listed<K: AsRef<[u8]>>(keys: impl Iterator<Item = K>) -> String {
    keys.map(|k| {
        let k = k.as_ref();
        format!(
            "`{}` -> slot {}",
            String::from_utf8_lossy(k),
            slot_number(k)
        )
    })
    .collect::<Vec<_>>()
    .join(", ")
}

const COMMAND_TABLE: &str = "the cluster did not answer COMMAND INFO, which tells where the \
    batch's plain commands keep their keys (needed to split the batch by slot)";

const ATOMIC_CROSS_SLOT: &str = "an atomic batch (MULTI/EXEC) runs on one node, in one slot: \
    give its keys a common {hash tag}, or drop .atomic() to let the batch be split by slot";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::pipe;
    use crate::batch::tests_support::{batch, count, server_error};

    fn keys(p: &Pipeline) -> Keys<'_> {
        p.items
            .iter()
            .map(|i| script_key_iter(i.cmd()).map(Cow::Borrowed).collect())
            .collect()
    }

    #[test]
    fn entries_sharing_a_key_stay_together_in_order() {
        let mut p = pipe();
        p.add(count("a"));
        p.add(count("b"));
        p.add(count("a"));
        p.add(count("{a}c"));
        p.add(count("b"));
        assert_eq!(
            p.groups(&keys(&p), Split::ByKey),
            vec![vec![0, 2], vec![1, 4], vec![3]]
        );
        // `a` and `{a}c` hash to one slot.
        assert_eq!(
            p.groups(&keys(&p), Split::BySlot),
            vec![vec![0, 2, 3], vec![1, 4]]
        );
        p.atomic();
        assert_eq!(
            p.groups(&keys(&p), Split::BySlot),
            vec![vec![0, 1, 2, 3, 4]]
        );
    }

    #[test]
    fn many_entries_group_as_few_do() {
        // Past the linear list's size, the map takes over and agrees.
        let mut p = pipe();
        for i in 0..100 {
            p.add(count(&format!("{{t{}}}k{i}", i % 7)));
        }
        let groups = p.groups(&keys(&p), Split::BySlot);
        assert_eq!(groups.len(), 7);
        for (g, group) in groups.iter().enumerate() {
            assert!(group.iter().all(|i| i % 7 == g), "{group:?}");
        }
        let by_key = p.groups(&keys(&p), Split::ByKey);
        assert_eq!(by_key.len(), 100);
    }

    #[test]
    fn keyless_entries_are_one_more_part() {
        let mut p = pipe();
        p.cmd(&redis::cmd("PING"));
        p.add(count("a"));
        p.cmd(&redis::cmd("TIME"));
        let keys = vec![vec![], vec![Cow::Borrowed(&b"a"[..])], vec![]];
        assert_eq!(p.groups(&keys, Split::BySlot), vec![vec![1], vec![0, 2]]);
    }

    #[test]
    fn a_part_is_a_transaction_loading_its_own_scripts() {
        let mut p = pipe();
        p.add(count("a"));
        p.cmd(redis::cmd("SET").arg("b").arg(1));
        let part = p.part(&[1], false);
        assert!(part.atomic && part.scripts.is_empty());
        assert_eq!(part.wire_len(), 3);
        let part = p.part(&[0], false);
        assert_eq!(part.wire_len(), 4, "MULTI, SCRIPT LOAD, EVALSHA, EXEC");
        let single = p.part(&[0], true);
        assert_eq!(single.wire_len(), 1, "the EVALSHA alone");
    }

    #[test]
    fn an_atomic_batch_across_slots_is_refused_naming_the_slots() {
        let mut p = pipe();
        p.atomic();
        p.add(count("foo"));
        p.add(count("bar"));
        let Error::Batch(e) = p.refuse_unsendable(&keys(&p)).unwrap_err() else {
            panic!()
        };
        assert_eq!(e.kind(), BatchFailure::NotSent);
        let text = e.to_string();
        assert!(
            text.contains("`foo` -> slot 12182, `bar` -> slot 5061"),
            "{text}"
        );
    }

    #[test]
    fn a_refused_part_is_reported_entry_by_entry_and_the_rest_is_read() {
        let mut p = pipe();
        let ran = p.add(count("a"));
        let refused = p.add(count("b"));
        let groups = vec![vec![0], vec![1]];
        let tryagain =
            match server_error(b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n") {
                Value::ServerError(e) => RedisError::from(e),
                other => panic!("{other:?}"),
            };
        let sent = vec![
            Sent::Ran(Value::Int(5)),
            Sent::Part(p.part(&[1], false), Err(tryagain)),
        ];
        let e = batch(p.merge(&groups, sent));
        assert_eq!(e.kind(), BatchFailure::Cluster);
        assert_eq!(e.ran(), vec![0]);
        assert_eq!(e.not_run(), vec![1]);
        assert_eq!(e.entries()[1].status(), EntryStatus::NotRun);
        assert_eq!(e.entries()[1].outcome(), Outcome::Refused);
        let text = e.to_string();
        assert!(
            text.starts_with(
                "cluster pipeline of 2 entries, split into 2 parts by slot: 1 ran, 1 did not \
                 run, 0 may have run; nothing that may have run was sent again"
            ),
            "{text}"
        );
        assert!(
            text.contains("#1 script `count`: the cluster answered TRYAGAIN"),
            "{text}"
        );
        let results = e.results().expect("one part ran");
        assert_eq!(results.get(ran).unwrap(), 5);
        let err = results.get(refused).unwrap_err().to_string();
        assert!(
            err.contains("it did not run: the cluster answered TRYAGAIN"),
            "{err}"
        );
    }
}
