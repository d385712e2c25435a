//! Script calls, batches and preloading on a real Redis Cluster: three
//! primaries on loopback ports, started (and stopped) by
//! `redlua::testing::RedisCluster`, with the `redis` crate's sync and async
//! cluster clients.

use redlua::testing::{command_calls, RedisCluster, RedisServer};
use redlua::{
    redis_function, redis_script, BatchFailure, ClusterRefusal, EntryStatus, Error, Outcome,
};

#[redis_script("pipeline/count.lua")]
fn count(counter: &str) -> i64;

#[redis_script("multiply.lua")]
fn multiply(key: &str, multiplier: i64) -> i64;

#[redis_script("push_and_sum.lua")]
fn push_and_sum(list: &str, sum: &str, values: &[i64]) -> i64;

// Warns at compile time (it writes a key passed as an argument): the
// warning is what this fixture is for.
#[allow(deprecated)]
#[redis_script("cluster/keyless_write.lua")]
fn keyless_write(name: &str) -> i64;

#[redis_script("checks/read_only.lua")]
fn read_counter(counter: &str) -> Option<i64>;

#[redis_function("checks/read_only.lua")]
fn read_counter_fn(counter: &str) -> Option<i64>;

fn start() -> (RedisCluster, redis::cluster::ClusterClient) {
    let cluster = RedisCluster::start(3).expect("start a 3-node redis cluster");
    let client = redis::cluster::ClusterClient::new(cluster.urls()).expect("cluster client");
    (cluster, client)
}

/// The index of the node that serves `key`: every other node answers MOVED.
fn owner(cluster: &RedisCluster, key: &str) -> usize {
    cluster
        .nodes()
        .iter()
        .position(|node| {
            redis::cmd("EXISTS")
                .arg(key)
                .query::<i64>(&mut node.connection())
                .is_ok()
        })
        .unwrap_or_else(|| panic!("no node serves {key}"))
}

/// One key per node: `keys[i]` is served by node `i`.
fn key_per_node(cluster: &RedisCluster) -> Vec<String> {
    let mut keys = vec![String::new(); cluster.nodes().len()];
    for key in (0..).map(|i| format!("k{i}")) {
        let node = owner(cluster, &key);
        if keys[node].is_empty() {
            keys[node] = key;
        }
        if keys.iter().all(|k| !k.is_empty()) {
            return keys;
        }
    }
    unreachable!()
}

fn flush_every_node(cluster: &RedisCluster) {
    for node in cluster.nodes() {
        redis::cmd("SCRIPT")
            .arg("FLUSH")
            .exec(&mut node.connection())
            .unwrap();
    }
}

fn resident(node: &RedisServer, sha: &str) -> bool {
    let exists: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(sha)
        .query(&mut node.connection())
        .unwrap();
    exists[0]
}

fn assert_resident_everywhere(cluster: &RedisCluster, scripts: &[&'static redlua::Script]) {
    for node in cluster.nodes() {
        for script in scripts {
            let name = script.name();
            assert!(resident(node, script.sha1()), "{name} on {}", node.url());
        }
    }
}

/// What the key holds, read on the node that serves it (not through the
/// cluster client, so nothing is retried behind the test's back).
fn stored(cluster: &RedisCluster, key: &str) -> Option<i64> {
    let node = &cluster.nodes()[owner(cluster, key)];
    redis::cmd("GET")
        .arg(key)
        .query(&mut node.connection())
        .unwrap()
}

#[test]
fn sync_calls_reach_every_node_and_run_once_after_a_flush() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_connection().unwrap();
    let sha = count("").script().sha1();
    for round in 1..=3 {
        flush_every_node(&cluster);
        for key in &keys {
            assert_eq!(count(key).invoke(&mut con).unwrap(), round, "{key}");
        }
    }
    for (node, key) in cluster.nodes().iter().zip(&keys) {
        assert_eq!(stored(&cluster, key), Some(3), "{key} ran once per call");
        assert!(resident(node, sha), "the miss left the script on its node");
    }
}

#[tokio::test]
async fn async_calls_reach_every_node_and_run_once_after_a_flush() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_async_connection().await.unwrap();
    for round in 1..=3 {
        flush_every_node(&cluster);
        for key in &keys {
            assert_eq!(count(key).invoke_async(&mut con).await.unwrap(), round);
        }
    }
    for key in &keys {
        assert_eq!(stored(&cluster, key), Some(3), "{key} ran once per call");
    }
    let sha = count("").script().sha1();
    assert!(cluster.nodes().iter().all(|n| resident(n, sha)));
}

#[test]
fn sync_load_makes_scripts_resident_on_every_primary() {
    let (cluster, client) = start();
    let mut con = client.get_connection().unwrap();
    flush_every_node(&cluster);
    let scripts = [count("").script(), multiply("", 0).script()];
    assert_eq!(redlua::load(&mut con, &scripts).unwrap(), 2);
    assert_resident_everywhere(&cluster, &scripts);
    flush_every_node(&cluster);
    let report = redlua::load_cluster(&mut con, &scripts, None).unwrap();
    assert!(report.is_complete(), "{report}");
    assert_resident_everywhere(&cluster, &scripts);
}

/// A primary that refuses `SCRIPT LOAD` (its default user lost the
/// `SCRIPT` command) makes the sync `redlua::load` fail, naming that node
/// and why; the other primaries are loaded all the same.
#[test]
fn sync_load_names_the_primary_that_did_not_get_the_scripts() {
    let (cluster, client) = start();
    let mut con = client.get_connection().unwrap();
    flush_every_node(&cluster);
    let refusing = &cluster.nodes()[1];
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("-script")
        .exec(&mut refusing.connection())
        .unwrap();
    let err = redlua::load(&mut con, &[COUNT]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("1 of the cluster's primaries"), "{text}");
    assert!(text.contains(&format!(":{}", refusing.port())), "{text}");
    assert!(text.contains("NOPERM"), "{text}");
    for (i, node) in cluster.nodes().iter().enumerate() {
        if i != 1 {
            assert!(resident(node, COUNT.sha1()), "{}", node.url());
        }
    }
}

#[tokio::test]
async fn async_cluster_load_makes_scripts_resident_on_every_primary() {
    let (cluster, client) = start();
    let mut con = client.get_async_connection().await.unwrap();
    flush_every_node(&cluster);
    let scripts = [
        count("").script(),
        multiply("", 0).script(),
        count("x").script(),
    ];
    let report = redlua::load_cluster_async(&mut con, &scripts, None)
        .await
        .unwrap();
    assert_eq!(report.scripts(), 2);
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.nodes().len(), 3);
    assert_resident_everywhere(&cluster, &scripts);
}

#[test]
fn sync_cluster_connection_refuses_a_batch_and_runs_nothing() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_connection().unwrap();
    for atomic in [false, true] {
        let mut p = redlua::pipe();
        if atomic {
            p.atomic();
        }
        // Even a one-slot batch: a MOVED during resharding would make the
        // sync cluster client send the whole batch again.
        p.add(count(&keys[0]));
        p.cmd(redis::cmd("INCR").arg(&keys[0]));
        let err = p.query(&mut con).unwrap_err();
        let Error::Batch(batch) = &err else {
            panic!("expected a batch error, got {err:?}");
        };
        assert_eq!(batch.kind(), BatchFailure::NotSent);
        assert_eq!(batch.not_run(), vec![0, 1]);
        assert!(batch
            .entries()
            .iter()
            .all(|e| e.status() == EntryStatus::NotRun));
        let text = err.to_string();
        assert!(
            text.contains("not sent: none of its 2 entries ran"),
            "{text}"
        );
        assert!(text.contains("async cluster connection"), "{text}");
    }
    assert_eq!(stored(&cluster, &keys[0]), None, "nothing ran");
}

#[tokio::test]
async fn async_batch_in_one_slot_runs_every_entry_once_after_a_flush() {
    let (cluster, client) = start();
    let mut con = client.get_async_connection().await.unwrap();
    redis::cmd("SET")
        .arg("{user:7}n")
        .arg(5)
        .exec_async(&mut con)
        .await
        .unwrap();
    for (round, atomic) in [(1, false), (2, true)] {
        flush_every_node(&cluster);
        let mut p = redlua::pipe();
        if atomic {
            p.atomic();
        }
        let a = p.add(count("{user:7}a"));
        let raw = p
            .cmd(redis::cmd("INCR").arg("{user:7}b"))
            .returning::<i64>();
        let m = p.add(multiply("{user:7}n", 3));
        let b = p.add(count("{user:7}a"));
        let results = p.query_async(&mut con).await.unwrap();
        assert_eq!(results.get(a).unwrap(), 2 * round - 1);
        assert_eq!(results.get(raw).unwrap(), round);
        assert_eq!(results.get(m).unwrap(), 15);
        assert_eq!(results.get(b).unwrap(), 2 * round);
    }
    assert_eq!(stored(&cluster, "{user:7}a"), Some(4));
    assert_eq!(stored(&cluster, "{user:7}b"), Some(2));
}

/// Keys on every node, entries of three kinds (script calls, plain
/// commands, a keyless `PING`), after every node's script cache was
/// flushed: the batch is split by slot, each part loads its own scripts,
/// and every entry runs once, answered in the caller's order. Entries on
/// one key keep their order (a `SET` then the script that reads it).
#[tokio::test]
async fn async_batch_across_nodes_runs_each_entry_once_in_the_callers_order() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_async_connection().await.unwrap();
    flush_every_node(&cluster);
    let mut p = redlua::pipe();
    let mut counts = Vec::new();
    for round in 0..2 {
        for key in &keys {
            counts.push((p.add(count(key)), round + 1));
        }
    }
    p.cmd(redis::cmd("SET").arg(&keys[1]).arg(7));
    let n = format!("{{{}}}n", keys[2]);
    p.cmd(redis::cmd("SET").arg(&n).arg(6));
    let product = p.add(multiply(&n, 7));
    let pinged = p.cmd(&redis::cmd("PING")).returning::<String>();
    let hashed = p
        .cmd(
            redis::cmd("HSET")
                .arg(format!("{{{}}}h", keys[0]))
                .arg("f")
                .arg("v"),
        )
        .returning::<i64>();
    let summed = p.add(push_and_sum(
        &format!("{{{}}}l", keys[1]),
        &format!("{{{}}}s", keys[1]),
        &[1, 2, 3],
    ));
    let results = p.query_async(&mut con).await.unwrap();
    for (handle, expected) in &counts[..3] {
        assert_eq!(results.get(*handle).unwrap(), *expected);
    }
    for (handle, expected) in &counts[3..] {
        assert_eq!(results.get(*handle).unwrap(), *expected);
    }
    assert_eq!(results.get(product).unwrap(), 42);
    assert_eq!(results.get(pinged).unwrap(), "PONG");
    assert_eq!(results.get(hashed).unwrap(), 1);
    assert_eq!(results.get(summed).unwrap(), 6);
    // keys[1] was counted twice, then SET to 7 by the plain command queued after.
    assert_eq!(stored(&cluster, &keys[0]), Some(2));
    assert_eq!(stored(&cluster, &keys[1]), Some(7));
    assert_eq!(stored(&cluster, &keys[2]), Some(2));
    // Every node got its part's loads and calls: the flushed caches healed.
    assert_resident_everywhere(&cluster, &[COUNT]);
}

/// `.atomic()` batches stay in one slot (MULTI/EXEC runs on one node):
/// across slots nothing is sent, and the error says why and what to do.
#[tokio::test]
async fn an_atomic_batch_across_slots_is_not_sent_and_says_why() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_async_connection().await.unwrap();
    let mut p = redlua::pipe();
    p.atomic();
    p.add(count(&keys[0]));
    p.add(count(&keys[1]));
    let err = p.query_async(&mut con).await.unwrap_err();
    let Error::Batch(batch) = &err else {
        panic!("expected a batch error, got {err:?}");
    };
    assert_eq!(batch.kind(), BatchFailure::NotSent);
    assert_eq!(batch.not_run(), vec![0, 1]);
    let text = err.to_string();
    assert!(text.contains("{hash tag}"), "{text}");
    assert!(text.contains("drop .atomic()"), "{text}");
    assert!(text.contains(&format!("`{}` -> slot", keys[0])), "{text}");
    assert_eq!(stored(&cluster, &keys[0]), None);
    assert_eq!(stored(&cluster, &keys[1]), None);
    // A non-atomic entry whose own keys span slots is refused the same way.
    let mut p = redlua::pipe();
    p.add(count(&keys[0]));
    p.add(push_and_sum(&keys[1], &keys[2], &[1]));
    let err = p.query_async(&mut con).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("entry #1 cannot run on a cluster"), "{text}");
    assert_eq!(stored(&cluster, &keys[0]), None, "nothing ran");
}

#[test]
fn script_errors_on_a_cluster_name_the_file_and_line() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_connection().unwrap();
    for key in &keys {
        redis::cmd("HSET")
            .arg(key)
            .arg("f")
            .arg("v")
            .exec(&mut con)
            .unwrap();
        // GET on a hash: WRONGTYPE from the script's redis.call.
        let err = multiply(key, 2).invoke(&mut con).unwrap_err();
        assert_eq!(err.script_name(), "multiply");
        assert_eq!(err.code(), Some("WRONGTYPE"));
        assert!(err.to_string().contains("lua/multiply.lua:8"), "{err}");
    }
}

#[tokio::test]
async fn async_miss_costs_one_load_and_one_retry_on_the_key_node() {
    let (cluster, client) = start();
    if cluster.skip_unless(
        cluster.server_version().has_subcommand_stats(),
        "counts SCRIPT LOADs, which INFO commandstats does not count apart on this server",
    ) {
        return;
    }
    let mut admin: Vec<redis::Connection> = cluster
        .nodes()
        .iter()
        .map(RedisServer::connection)
        .collect();
    let mut con = client.get_async_connection().await.unwrap();
    let keys: Vec<String> = (0..30).map(|i| format!("miss:{i}")).collect();
    let totals = |admin: &mut Vec<redis::Connection>| -> [u64; 3] {
        let mut t = [0; 3];
        for a in admin.iter_mut() {
            t[0] += command_calls(a, "evalsha");
            t[1] += command_calls(a, "script|load");
            t[2] += command_calls(a, "cluster|slots") + command_calls(a, "cluster|shards");
        }
        t
    };
    let before = totals(&mut admin);
    for key in &keys {
        for a in admin.iter_mut() {
            redis::cmd("SCRIPT").arg("FLUSH").exec(a).unwrap();
        }
        assert_eq!(count(key).invoke_async(&mut con).await.unwrap(), 1);
    }
    let after = totals(&mut admin);
    let misses = keys.len() as u64;
    // The failed EVALSHA, then SCRIPT LOAD + EVALSHA in one batch routed by
    // the key: no redirect, no slot-map refresh.
    assert_eq!(after[0] - before[0], 2 * misses, "EVALSHA per miss");
    assert_eq!(after[1] - before[1], misses, "SCRIPT LOAD per miss");
    assert_eq!(after[2] - before[2], 0, "slot-map queries");
}

/// How many times `command` ran on every node of the cluster, in all.
fn cluster_calls(cluster: &RedisCluster, command: &str) -> u64 {
    cluster
        .all_nodes()
        .map(|n| command_calls(&mut n.connection(), command))
        .sum()
}

fn keyslot(cluster: &RedisCluster, key: &str) -> u16 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut cluster.nodes()[0].connection())
        .unwrap()
}

/// The refusal of a call whose two keys live on different nodes: it names
/// each key with the server's own slot for it, suggests a hash tag, and
/// says nothing was sent.
fn assert_cross_slot_refusal(cluster: &RedisCluster, err: &Error, keys: [&str; 2]) {
    assert_eq!(err.outcome(), Outcome::NotSent, "{err}");
    assert_eq!(err.code(), Some("CROSSSLOT"));
    let refusal = err.as_cluster_error().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(refusal.kind(), ClusterRefusal::CrossSlot);
    assert_eq!(refusal.script_name(), "push_and_sum");
    let text = err.to_string();
    for (i, key) in keys.iter().enumerate() {
        let slot = keyslot(cluster, key);
        assert_eq!(refusal.keys()[i], (key.as_bytes().to_vec(), slot));
        assert!(text.contains(&format!("`{key}` -> slot {slot}")), "{text}");
    }
    assert!(text.contains("lua/push_and_sum.lua"), "{text}");
    assert!(text.contains(&format!("`{{{}}}`", keys[0])), "{text}");
    assert!(text.contains("not sent"), "{text}");
}

#[test]
fn sync_cross_slot_call_is_refused_before_sending_naming_each_key() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_connection().unwrap();
    let before = cluster_calls(&cluster, "evalsha");
    let err = push_and_sum(&keys[0], &keys[1], &[1])
        .invoke(&mut con)
        .unwrap_err();
    assert_cross_slot_refusal(&cluster, &err, [&keys[0], &keys[1]]);
    assert_eq!(
        cluster_calls(&cluster, "evalsha"),
        before,
        "nothing was sent"
    );
    // One hash tag: one slot, the call runs.
    let sum = push_and_sum("{order:1}items", "{order:1}total", &[2, 3]);
    assert_eq!(sum.invoke(&mut con).unwrap(), 5);
}

#[tokio::test]
async fn async_cross_slot_call_is_refused_before_sending_naming_each_key() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_async_connection().await.unwrap();
    let before = cluster_calls(&cluster, "evalsha");
    let err = push_and_sum(&keys[1], &keys[2], &[1])
        .invoke_async(&mut con)
        .await
        .unwrap_err();
    assert_cross_slot_refusal(&cluster, &err, [&keys[1], &keys[2]]);
    assert_eq!(
        cluster_calls(&cluster, "evalsha"),
        before,
        "nothing was sent"
    );
    let sum = push_and_sum("{order:2}items", "{order:2}total", &[4]);
    assert_eq!(sum.invoke_async(&mut con).await.unwrap(), 4);
}

#[test]
fn a_single_server_still_takes_keys_of_different_slots() {
    let server = RedisServer::start().unwrap();
    let mut con = server.connection();
    // "a" and "b" hash to slots 15495 and 3300.
    assert_eq!(push_and_sum("a", "b", &[7]).invoke(&mut con).unwrap(), 7);
}

/// Puts the slot of `key` (on node `from`) into migration to node `to`
/// and moves the key: `from` then answers `ASK` for it, `to` serves it
/// after `ASKING`. Returns the slot.
fn migrate_key(cluster: &RedisCluster, key: &str, from: usize, to: usize) -> u16 {
    let slot = keyslot(cluster, key);
    let (src, dst) = (&cluster.nodes()[from], &cluster.nodes()[to]);
    let (src_id, dst_id) = (
        RedisCluster::node_id(src).unwrap(),
        RedisCluster::node_id(dst).unwrap(),
    );
    redis::cmd("CLUSTER")
        .arg("SETSLOT")
        .arg(slot)
        .arg("IMPORTING")
        .arg(&src_id)
        .exec(&mut dst.connection())
        .unwrap();
    redis::cmd("CLUSTER")
        .arg("SETSLOT")
        .arg(slot)
        .arg("MIGRATING")
        .arg(&dst_id)
        .exec(&mut src.connection())
        .unwrap();
    redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(dst.port())
        .arg(key)
        .arg(0)
        .arg(5000)
        .exec(&mut src.connection())
        .unwrap();
    slot
}

/// Ends the migration of `slot`: every node gives it to node `to`.
fn finish_migration(cluster: &RedisCluster, slot: u16, to: usize) {
    let dst_id = RedisCluster::node_id(&cluster.nodes()[to]).unwrap();
    for node in cluster.nodes() {
        redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(slot)
            .arg("NODE")
            .arg(&dst_id)
            .exec(&mut node.connection())
            .unwrap();
    }
}

/// The script is resident on the slot's old owner only, the slot is
/// migrating and its key has moved: the owner answers `ASK`, the importing
/// node `NOSCRIPT`. The call loads the script where the `ASK` points and
/// runs once; counted on the importing node, which holds the key.
#[test]
fn sync_call_during_a_slot_migration_loads_on_the_importing_node_and_runs_once() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_connection().unwrap();
    let key = &keys[0];
    assert_eq!(count(key).invoke(&mut con).unwrap(), 1);
    flush_every_node(&cluster);
    redlua::load(&mut cluster.nodes()[0].connection(), &[COUNT]).unwrap();
    let slot = migrate_key(&cluster, key, 0, 1);
    let started = std::time::Instant::now();
    assert_eq!(count(key).invoke(&mut con).unwrap(), 2);
    eprintln!("call during migration: {:?}", started.elapsed());
    assert!(resident(&cluster.nodes()[1], COUNT.sha1()));
    assert_eq!(count(key).invoke(&mut con).unwrap(), 3);
    finish_migration(&cluster, slot, 1);
    assert_eq!(stored(&cluster, key), Some(3), "each call ran once");
}

#[tokio::test]
async fn async_call_during_a_slot_migration_loads_on_the_importing_node_and_runs_once() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_async_connection().await.unwrap();
    let key = &keys[2];
    assert_eq!(count(key).invoke_async(&mut con).await.unwrap(), 1);
    flush_every_node(&cluster);
    redlua::load(&mut cluster.nodes()[2].connection(), &[COUNT]).unwrap();
    let slot = migrate_key(&cluster, key, 2, 0);
    let started = std::time::Instant::now();
    assert_eq!(count(key).invoke_async(&mut con).await.unwrap(), 2);
    eprintln!("call during migration: {:?}", started.elapsed());
    assert!(resident(&cluster.nodes()[0], COUNT.sha1()));
    assert_eq!(count(key).invoke_async(&mut con).await.unwrap(), 3);
    finish_migration(&cluster, slot, 0);
    assert_eq!(stored(&cluster, key), Some(3), "each call ran once");
}

fn signal(node: &RedisServer, sig: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(node.pid().unwrap().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A SIGSTOPped node, woken up again on drop (even when the test fails).
struct Frozen<'a>(&'a RedisServer);

impl<'a> Frozen<'a> {
    fn new(node: &'a RedisServer) -> Frozen<'a> {
        signal(node, "STOP");
        Frozen(node)
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

const PER_NODE: std::time::Duration = std::time::Duration::from_millis(500);

/// Every node but `frozen` has both scripts; the report names `frozen`
/// alone, as a replica that timed out.
fn assert_loaded_but(cluster: &RedisCluster, report: &redlua::ClusterLoad, frozen: &RedisServer) {
    assert_eq!(report.scripts(), 2);
    assert_eq!(report.nodes().len(), 6, "{report}");
    let failed: Vec<_> = report.failed().collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0].address(), format!("127.0.0.1:{}", frozen.port()));
    assert!(!failed[0].is_primary());
    let err = failed[0].error().unwrap();
    assert_eq!(err.outcome(), Outcome::MayHaveRun, "{err}");
    assert!(
        report.to_string().contains("1 of 6") || report.to_string().contains("5 of 6"),
        "{report}"
    );
    for node in cluster.all_nodes().filter(|n| n.port() != frozen.port()) {
        for script in [COUNT, MULTIPLY] {
            assert!(
                resident(node, script.sha1()),
                "{} on {}",
                script.name(),
                node.url()
            );
        }
    }
}

#[test]
fn sync_load_cluster_loads_primaries_and_replicas_and_skips_a_frozen_replica_in_bounded_time() {
    let cluster = RedisCluster::start_with_replicas(3, 1).unwrap();
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut con = client.get_connection().unwrap();
    flush_all(&cluster);
    let frozen = Frozen::new(&cluster.replicas()[1]);
    let started = std::time::Instant::now();
    let report = redlua::load_cluster(&mut con, &[COUNT, MULTIPLY, COUNT], Some(PER_NODE)).unwrap();
    let took = started.elapsed();
    eprintln!("sync load_cluster with a frozen replica: {took:?}\n{report}");
    assert!(took < 3 * PER_NODE, "took {took:?}");
    assert_loaded_but(&cluster, &report, frozen.0);
    // `redlua::load` on the same connection is that load with the default
    // bound: every primary loaded, so it succeeds.
    let started = std::time::Instant::now();
    assert_eq!(redlua::load(&mut con, &[COUNT, MULTIPLY]).unwrap(), 2);
    let took = started.elapsed();
    eprintln!("sync redlua::load with a frozen replica: {took:?}");
    assert!(took < 2 * redlua::DEFAULT_NODE_TIMEOUT, "took {took:?}");
    drop(frozen);
    // Awake again: the next load completes, and calls still work.
    let report = redlua::load_cluster(&mut con, &[COUNT, MULTIPLY], Some(PER_NODE)).unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(count("{n}").invoke(&mut con).unwrap(), 1);
}

#[tokio::test]
async fn async_load_cluster_loads_primaries_and_replicas_and_skips_a_frozen_replica_in_bounded_time(
) {
    let cluster = RedisCluster::start_with_replicas(3, 1).unwrap();
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    flush_all(&cluster);
    let frozen = Frozen::new(&cluster.replicas()[1]);
    let started = std::time::Instant::now();
    let report = redlua::load_cluster_async(&mut con, &[COUNT, MULTIPLY], Some(PER_NODE))
        .await
        .unwrap();
    let took = started.elapsed();
    eprintln!("async load_cluster with a frozen replica: {took:?}\n{report}");
    assert!(took < 3 * PER_NODE, "took {took:?}");
    assert_loaded_but(&cluster, &report, frozen.0);
    drop(frozen);
    let report = redlua::load_cluster_async(&mut con, &[COUNT, MULTIPLY], Some(PER_NODE))
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(count("{n}").invoke_async(&mut con).await.unwrap(), 1);
}

fn flush_all(cluster: &RedisCluster) {
    for node in cluster.all_nodes() {
        redis::cmd("SCRIPT")
            .arg("FLUSH")
            .exec(&mut node.connection())
            .unwrap();
    }
}

/// A writing script with no `%key` would reach a random node, and every
/// node but the owner of the key it writes refuses (`non local key`, 6 of
/// 12 calls in the audit): it is refused on both cluster connections before
/// anything is sent, and still runs on a single server.
#[tokio::test]
async fn a_writing_script_without_keys_is_refused_on_a_cluster_and_runs_on_one_server() {
    assert!(KEYLESS_WRITE.writes_without_keys());
    assert!(!COUNT.writes_without_keys());
    let (cluster, client) = start();
    let before = cluster_calls(&cluster, "evalsha");
    let mut sync_con = client.get_connection().unwrap();
    let mut async_con = client.get_async_connection().await.unwrap();
    for _ in 0..6 {
        let sync_err = keyless_write("hits").invoke(&mut sync_con).unwrap_err();
        let async_err = keyless_write("hits")
            .invoke_async(&mut async_con)
            .await
            .unwrap_err();
        for err in [sync_err, async_err] {
            let refusal = err.as_cluster_error().unwrap_or_else(|| panic!("{err:?}"));
            assert_eq!(refusal.kind(), ClusterRefusal::KeylessWrite);
            assert_eq!(err.outcome(), Outcome::NotSent);
            let text = err.to_string();
            assert!(text.contains("lua/cluster/keyless_write.lua"), "{text}");
            assert!(text.contains("declares no `%key`"), "{text}");
        }
    }
    assert_eq!(
        cluster_calls(&cluster, "evalsha"),
        before,
        "nothing was sent"
    );
    assert_eq!(stored(&cluster, "hits"), None);
    let server = RedisServer::start().unwrap();
    assert_eq!(
        keyless_write("hits")
            .invoke(&mut server.connection())
            .unwrap(),
        1
    );
}

/// `CLUSTER FAILOVER` on the replica at `url`, waiting until it reports
/// itself a primary; how long that took.
/// Sends a batch of one `count` per key (distinct keys) and books what
/// ran in `told`: every entry that ran must answer one more than the runs
/// the test was told of; an entry reported not run changed nothing; none
/// may be unknown (no connection is cut in these tests). Returns how many
/// entries did not run.
async fn counted_batch(
    con: &mut redis::cluster_async::ClusterConnection,
    keys: &[String],
    told: &mut std::collections::HashMap<String, i64>,
    what: &str,
) -> usize {
    let mut p = redlua::pipe();
    let handles: Vec<_> = keys.iter().map(|k| p.add(count(k))).collect();
    let (results, not_run) = match p.query_async(con).await {
        Ok(results) => (results, Vec::new()),
        Err(Error::Batch(e)) => {
            assert!(e.unknown().is_empty(), "{what}: {e}");
            let not_run = e.not_run();
            (e.into_results().expect("some entries ran"), not_run)
        }
        Err(e) => panic!("{what}: {e}"),
    };
    for (i, (key, handle)) in keys.iter().zip(handles).enumerate() {
        if not_run.contains(&i) {
            continue;
        }
        let seen = told.entry(key.clone()).or_default();
        *seen += 1;
        assert_eq!(results.get(handle).unwrap(), *seen, "{what}: {key}");
    }
    not_run.len()
}

fn failover(url: String) -> std::time::Duration {
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let started = std::time::Instant::now();
    redis::cmd("CLUSTER")
        .arg("FAILOVER")
        .exec(&mut con)
        .unwrap();
    loop {
        let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut con).unwrap();
        if matches!(&role[0], redis::Value::BulkString(r) if r == b"master") {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "no failover"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A stream of calls on every node and one-slot transactions, with a
/// `CLUSTER FAILOVER` in the middle (the promoted replica has never seen
/// the scripts, so calls there heal by NOSCRIPT): every call and batch is
/// answered, and each key on the server holds exactly the number of runs
/// the client was told of: nothing lost, nothing run twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_during_a_stream_of_calls_and_batches_loses_and_duplicates_nothing() {
    let cluster = RedisCluster::start_with_replicas(3, 1).unwrap();
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    let keys = key_per_node(&cluster);
    let tagged = format!("{{{}}}t", keys[0]);
    let mut told = std::collections::HashMap::<String, i64>::new();
    let mut failing_over = None;
    let started = std::time::Instant::now();
    const ROUNDS: usize = 150;
    for round in 0..ROUNDS {
        if round == ROUNDS / 3 {
            // Fails over the primary of keys[0] (node 0) while calls go on.
            let url = cluster.replicas()[0].url();
            failing_over = Some(std::thread::spawn(move || failover(url)));
        }
        for key in &keys {
            let n = count(key)
                .invoke_async(&mut con)
                .await
                .unwrap_or_else(|e| panic!("round {round}, {key}: {e} ({:?})", e.outcome()));
            let seen = told.entry(key.clone()).or_default();
            *seen += 1;
            assert_eq!(n, *seen, "{key}");
        }
        if round % 5 == 0 {
            // A batch across all three nodes, two keys each.
            let spread: Vec<String> = keys
                .iter()
                .flat_map(|k| [format!("{{{k}}}x"), format!("{{{k}}}y")])
                .collect();
            let what = format!("round {round}, cross-node batch");
            counted_batch(&mut con, &spread, &mut told, &what).await;
        }
        if round % 10 == 0 {
            let mut p = redlua::pipe();
            p.atomic();
            let a = p.add(count(&tagged));
            let b = p.add(count(&tagged));
            let results = p
                .query_async(&mut con)
                .await
                .unwrap_or_else(|e| panic!("round {round}, batch: {e}"));
            let seen = told.entry(tagged.clone()).or_default();
            assert_eq!(results.get(a).unwrap(), *seen + 1);
            assert_eq!(results.get(b).unwrap(), *seen + 2);
            *seen += 2;
        }
    }
    let took = failing_over.unwrap().join().unwrap();
    eprintln!(
        "{ROUNDS} rounds with a failover ({took:?} to promote): {:?}",
        started.elapsed()
    );
    // The replica of node 0 now serves keys[0]'s slot.
    let promoted = &cluster.replicas()[0];
    let role: Vec<redis::Value> = redis::cmd("ROLE")
        .query(&mut promoted.connection())
        .unwrap();
    assert!(
        matches!(&role[0], redis::Value::BulkString(r) if r == b"master"),
        "{role:?}"
    );
    // Calls reached it after the switch: it had never been loaded, and a
    // NOSCRIPT there loaded the script.
    assert!(command_calls(&mut promoted.connection(), "evalsha") > 0);
    assert!(resident(promoted, COUNT.sha1()));
    for (key, runs) in &told {
        let on_server: Option<i64> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(on_server, Some(*runs), "{key}");
    }
}

/// A slot in migration, its keys split: `a` still on the old owner, `b`
/// moved to the importing node (which has never seen the script). Before
/// batches were split, redis-rs resent the whole pipeline on every bounce
/// (an `INCR` ran 9 times). Now the batch's part for that slot is a
/// transaction, which Redis refuses (`TRYAGAIN`, nothing ran) while its
/// keys are split; redis-rs retries that with its backoff, and once the
/// refusal comes back (at once with `retries(0)`, as here) the entries are
/// sent again key by key: `a`'s runs where it is, `b`'s is sent on to the
/// importing node, each once.
///
/// An atomic batch over both cannot run anywhere until the migration ends:
/// it is reported not run, kind `Cluster`, and nothing ran.
#[tokio::test]
async fn a_batch_during_a_migration_runs_each_entry_at_most_once() {
    let (cluster, _) = start();
    let client = redis::cluster::ClusterClientBuilder::new(cluster.urls())
        .retries(0)
        .build()
        .unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    let (a, b) = ("{mig}a", "{mig}b");
    let from = owner(&cluster, a);
    let to = (from + 1) % 3;
    for key in [a, b] {
        redis::cmd("SET")
            .arg(key)
            .arg(20)
            .exec_async(&mut con)
            .await
            .unwrap();
    }
    flush_every_node(&cluster);
    let slot = migrate_key(&cluster, b, from, to);
    let get = |node: usize, key: &str| -> Option<i64> {
        let mut c = cluster.nodes()[node].connection();
        redis::cmd("ASKING").exec(&mut c).unwrap();
        redis::cmd("GET").arg(key).query(&mut c).unwrap()
    };

    let mut p = redlua::pipe();
    let incr = p.cmd(redis::cmd("INCR").arg(a)).returning::<i64>();
    let counted = p.add(count(b));
    let sent = tokio::time::timeout(std::time::Duration::from_secs(2), p.query_async(&mut con));
    let results = sent.await.expect("answered in 2 s").unwrap();
    assert_eq!(results.get(incr).unwrap(), 21);
    assert_eq!(results.get(counted).unwrap(), 21);
    assert_eq!(get(from, a), Some(21), "INCR ran once");
    assert_eq!(
        get(to, b),
        Some(21),
        "the script ran once, on the importing node"
    );

    let mut p = redlua::pipe();
    p.atomic();
    p.cmd(redis::cmd("INCR").arg(a));
    p.add(count(b));
    let sent = tokio::time::timeout(std::time::Duration::from_secs(2), p.query_async(&mut con));
    let err = sent.await.expect("answered in 2 s").unwrap_err();
    let Error::Batch(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.kind(), BatchFailure::Cluster, "{err}");
    assert_eq!(e.not_run(), vec![0, 1], "{err}");
    assert!(e.entries().iter().all(|r| r.outcome() == Outcome::Refused));
    assert!(err.to_string().contains("TRYAGAIN"), "{err}");
    assert_eq!(get(from, a), Some(21), "the transaction did not run");
    assert_eq!(get(to, b), Some(21), "the transaction did not run");
    // The old owner may not give the slot away while it holds `a`.
    redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(cluster.nodes()[to].port())
        .arg(a)
        .arg(0)
        .arg(5000)
        .exec(&mut cluster.nodes()[from].connection())
        .unwrap();
    finish_migration(&cluster, slot, to);
}

/// With `retries(0)` redis-rs gives redirects back instead of following
/// them (and never resends a request whose connection dropped); a batch
/// part or a call refused that way ran nothing, and redlua sends it to the
/// node named: `ASKING` first during a migration, straight there after the
/// slot moved (the client's slot map still names the old owner).
#[tokio::test]
async fn redirects_given_back_by_redis_rs_are_followed_by_batches_and_calls_and_run_once() {
    let (cluster, _) = start();
    let client = redis::cluster::ClusterClientBuilder::new(cluster.urls())
        .retries(0)
        .build()
        .unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    let keys = key_per_node(&cluster);
    let key = keys[0].clone();
    let (from, to) = (0, 1);
    assert_eq!(count(&key).invoke_async(&mut con).await.unwrap(), 1);
    flush_every_node(&cluster);
    let slot = migrate_key(&cluster, &key, from, to);
    let batch = |n: i64| {
        let mut p = redlua::pipe();
        let h = p.add(count(&key));
        let other = p.add(count(&keys[2]));
        (p, h, other, n)
    };
    let (p, h, other, _) = batch(2);
    let results = p.query_async(&mut con).await.unwrap();
    assert_eq!(results.get(h).unwrap(), 2, "ASK followed");
    assert_eq!(results.get(other).unwrap(), 1);
    finish_migration(&cluster, slot, to);
    let (p, h, other, _) = batch(3);
    let results = p.query_async(&mut con).await.unwrap();
    assert_eq!(results.get(h).unwrap(), 3, "MOVED followed");
    assert_eq!(results.get(other).unwrap(), 2);
    assert_eq!(stored(&cluster, &key), Some(3), "each run once");
    assert_eq!(stored(&cluster, &keys[2]), Some(2));

    // Single calls too: the slot of keys[2] moves from node 2 to node 0,
    // first migrating (ASK), then for good (MOVED, on a fresh client whose
    // map is stale only after the move).
    let other = keys[2].clone();
    let slot = migrate_key(&cluster, &other, 2, 0);
    assert_eq!(
        count(&other).invoke_async(&mut con).await.unwrap(),
        3,
        "ASK followed"
    );
    let mut fresh = client.get_async_connection().await.unwrap();
    assert_eq!(count(&other).invoke_async(&mut fresh).await.unwrap(), 4);
    finish_migration(&cluster, slot, 0);
    assert_eq!(
        count(&other).invoke_async(&mut fresh).await.unwrap(),
        5,
        "MOVED followed"
    );
    assert_eq!(stored(&cluster, &other), Some(5), "each call ran once");
}

/// Starts resharding `slot` from node `from` to node `to`, whose script
/// cache is emptied first (it has never seen the script), on a thread of
/// its own: `IMPORTING`/`MIGRATING`, then `keys` moved one by one with
/// `MIGRATE` (3 ms apart), then the slot given to `to` on every node.
fn reshard_in_background(
    cluster: &RedisCluster,
    slot: u16,
    from: usize,
    to: usize,
    keys: Vec<String>,
) -> std::thread::JoinHandle<()> {
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .exec(&mut cluster.nodes()[to].connection())
        .unwrap();
    let (src, dst) = (&cluster.nodes()[from], &cluster.nodes()[to]);
    let (src_url, dst_url, dst_port) = (src.url(), dst.url(), dst.port());
    let ids: Vec<String> = cluster
        .nodes()
        .iter()
        .map(|n| RedisCluster::node_id(n).unwrap())
        .collect();
    let urls = cluster.urls();
    std::thread::spawn(move || {
        let con = |url: &str| redis::Client::open(url).unwrap().get_connection().unwrap();
        let setslot = |url: &str, how: &str, id: &str| {
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(how)
                .arg(id)
                .exec(&mut con(url))
                .unwrap()
        };
        setslot(&dst_url, "IMPORTING", &ids[from]);
        setslot(&src_url, "MIGRATING", &ids[to]);
        for key in &keys {
            // NOKEY (not an error) when the key is already gone.
            let _: redis::Value = redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(dst_port)
                .arg(key)
                .arg(0)
                .arg(5000)
                .query(&mut con(&src_url))
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        for url in &urls {
            setslot(url, "NODE", &ids[to]);
        }
    })
}

/// Reshards one slot (keys moved one by one with `MIGRATE`, then the slot
/// given to the new owner) under a stream of calls on its keys; the new
/// owner has never seen the script. Every call is answered once, and each
/// key on the server holds exactly the number of runs the client was told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reshard_under_a_stream_of_calls_loses_and_duplicates_nothing() {
    let (cluster, client) = start();
    let mut con = client.get_async_connection().await.unwrap();
    let keys: Vec<String> = (0..8).map(|i| format!("{{rs}}{i}")).collect();
    let from = owner(&cluster, &keys[0]);
    let to = (from + 1) % 3;
    let slot = keyslot(&cluster, &keys[0]);
    let mut told = vec![0i64; keys.len()];
    let mut reshard = None;
    let started = std::time::Instant::now();
    // At least 60 rounds, and on until the reshard is over (bounded).
    let mut round = 0;
    while round < 60
        || !reshard
            .as_ref()
            .is_some_and(|h: &std::thread::JoinHandle<()>| h.is_finished())
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        if round == 5 {
            reshard = Some(reshard_in_background(
                &cluster,
                slot,
                from,
                to,
                keys.clone(),
            ));
        }
        for (i, key) in keys.iter().enumerate() {
            let n = count(key)
                .invoke_async(&mut con)
                .await
                .unwrap_or_else(|e| panic!("round {round}, {key}: {e} ({:?})", e.outcome()));
            told[i] += 1;
            assert_eq!(n, told[i], "{key}");
        }
        round += 1;
    }
    reshard.unwrap().join().unwrap();
    eprintln!(
        "{} calls under a reshard: {:?}",
        round * keys.len(),
        started.elapsed()
    );
    assert_eq!(owner(&cluster, &keys[0]), to, "the slot moved");
    assert!(resident(&cluster.nodes()[to], COUNT.sha1()));
    for (key, runs) in keys.iter().zip(&told) {
        assert_eq!(stored(&cluster, key), Some(*runs), "{key}");
    }
}

/// Reshards one slot (keys moved one by one, then the slot given away)
/// under a stream of batches whose 16 entries span every node, half of
/// them in the moving slot. Each entry the batch reports as run ran once,
/// each entry reported not run ran never (it is sent again in the next
/// round): the server's counts equal the runs the client was told of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reshard_under_a_stream_of_cross_node_batches_runs_each_entry_once() {
    let (cluster, client) = start();
    let mut con = client.get_async_connection().await.unwrap();
    let mut keys: Vec<String> = (0..8).map(|i| format!("{{rb}}{i}")).collect();
    let others = key_per_node(&cluster);
    keys.extend((0..8).map(|i| format!("{{{}}}{i}", others[i % 3])));
    let from = owner(&cluster, &keys[0]);
    let to = (from + 1) % 3;
    let slot = keyslot(&cluster, &keys[0]);
    let mut told = std::collections::HashMap::new();
    let mut reshard: Option<std::thread::JoinHandle<()>> = None;
    let (mut rounds, mut not_run) = (0, 0);
    let started = std::time::Instant::now();
    while rounds < 60 || !reshard.as_ref().is_some_and(|h| h.is_finished()) {
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        if rounds == 5 {
            reshard = Some(reshard_in_background(
                &cluster,
                slot,
                from,
                to,
                keys[..8].to_vec(),
            ));
        }
        let what = format!("round {rounds}");
        not_run += counted_batch(&mut con, &keys, &mut told, &what).await;
        rounds += 1;
    }
    reshard.unwrap().join().unwrap();
    eprintln!(
        "{rounds} batches of {} under a reshard: {:?}, {not_run} entries reported not run",
        keys.len(),
        started.elapsed()
    );
    assert_eq!(owner(&cluster, &keys[0]), to, "the slot moved");
    for (key, runs) in &told {
        assert_eq!(stored(&cluster, key), Some(*runs), "{key}");
    }
}

/// Plain commands are split by where the server says their keys are:
/// fixed positions (`ZADD`, `MSET` every other argument), keys that move
/// with the arguments (`ZUNIONSTORE`'s numkeys, `XREAD ... STREAMS`), a
/// container's subcommand (`OBJECT ENCODING`), and no key (`PING`). Each
/// command name is asked about once per process: the same batch again
/// sends no `COMMAND INFO`.
#[tokio::test]
async fn plain_commands_are_split_by_the_servers_own_key_table() {
    let (cluster, client) = start();
    let nodes = key_per_node(&cluster);
    let mut con = client.get_async_connection().await.unwrap();
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let info_calls = |cluster: &RedisCluster| -> u64 {
        let name = if cluster.server_version().has_subcommand_stats() {
            "command|info"
        } else {
            "command"
        };
        cluster
            .nodes()
            .iter()
            .map(|n| command_calls(&mut n.connection(), name))
            .sum()
    };
    let mut before = None;
    for round in 1..=2i64 {
        let mut p = redlua::pipe();
        let zadd = p
            .cmd(
                redis::cmd("ZADD")
                    .arg(format!("{{{b}}}z"))
                    .arg(round)
                    .arg("m"),
            )
            .returning::<i64>();
        let union = p
            .cmd(
                redis::cmd("ZUNIONSTORE")
                    .arg(format!("{{{b}}}d"))
                    .arg(1)
                    .arg(format!("{{{b}}}z")),
            )
            .returning::<i64>();
        let mset = p.cmd(
            redis::cmd("MSET")
                .arg(format!("{{{a}}}1"))
                .arg(round)
                .arg(format!("{{{a}}}2"))
                .arg(round),
        );
        let encoding = p
            .cmd(
                redis::cmd("OBJECT")
                    .arg("ENCODING")
                    .arg(format!("{{{b}}}d")),
            )
            .returning::<String>();
        p.cmd(
            redis::cmd("XADD")
                .arg(format!("{{{c}}}s"))
                .arg("*")
                .arg("f")
                .arg(round),
        );
        let read = p.cmd(
            redis::cmd("XREAD")
                .arg("STREAMS")
                .arg(format!("{{{c}}}s"))
                .arg(0),
        );
        let counted = p.add(count(&format!("{{{c}}}n")));
        let pong = p.cmd(&redis::cmd("PING")).returning::<String>();
        let results = p.query_async(&mut con).await.unwrap();
        assert_eq!(
            results.get(zadd).unwrap(),
            2 - round,
            "ZADD adds once, then updates"
        );
        assert_eq!(results.get(union).unwrap(), 1);
        assert!(results.get(mset).is_ok());
        assert!(!results.get(encoding).unwrap().is_empty());
        let read = results.get(read).unwrap();
        assert!(
            format!("{read:?}").contains(&format!("{{{c}}}s")),
            "{read:?}"
        );
        assert_eq!(results.get(counted).unwrap(), round);
        assert_eq!(results.get(pong).unwrap(), "PONG");
        let now = info_calls(&cluster);
        if let Some(before) = before {
            // Redis 6.2 counts every COMMAND subcommand as one: there the
            // second round's two are the GETKEYS of ZUNIONSTORE and XREAD.
            let getkeys = if cluster.server_version().has_subcommand_stats() {
                0
            } else {
                2
            };
            assert_eq!(now - before, getkeys, "no COMMAND INFO the second time");
        }
        before = Some(now);
    }
    assert_eq!(stored(&cluster, &format!("{{{a}}}2")), Some(2));
}

/// A user that may not run `COMMAND` cannot have a batch with plain
/// commands split on a cluster: the batch fails before any entry is sent,
/// and says why.
#[tokio::test]
async fn a_batch_whose_key_table_cannot_be_read_is_not_sent() {
    let (cluster, _) = start();
    for node in cluster.nodes() {
        redis::cmd("ACL")
            .arg("SETUSER")
            .arg("limited")
            .arg("on")
            .arg(">secret")
            .arg("~*")
            .arg("&*")
            .arg("+@all")
            .arg("-command")
            .exec(&mut node.connection())
            .unwrap();
    }
    let client = redis::cluster::ClusterClientBuilder::new(cluster.urls())
        .username("limited")
        .password("secret")
        .build()
        .unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    let keys = key_per_node(&cluster);
    let mut p = redlua::pipe();
    // APPEND: a command no other test of this process batches, so its key
    // positions are not known yet.
    p.cmd(redis::cmd("APPEND").arg(&keys[0]).arg("x"));
    p.add(count(&keys[1]));
    let err = p.query_async(&mut con).await.unwrap_err();
    let Error::Batch(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.kind(), BatchFailure::NotSent, "{err}");
    assert!(err.to_string().contains("COMMAND INFO"), "{err}");
    assert_eq!(err.outcome(), Outcome::NotSent);
    let appended: Option<String> = redis::cmd("GET")
        .arg(&keys[0])
        .query(&mut cluster.nodes()[0].connection())
        .unwrap();
    assert_eq!(appended, None, "nothing ran");
    assert_eq!(stored(&cluster, &keys[1]), None, "nothing ran");
}

/// Reads routed to replicas (`RandomReplicaStrategy`), a `no-writes` script (`EVALSHA_RO`) and the
/// same script as a read-only function (`FCALL_RO`) run on replicas: the
/// script heals there on `NOSCRIPT` (a replica has its own cache), the
/// function comes by replication from its primary's `FUNCTION LOAD`.
#[tokio::test]
async fn read_only_scripts_and_functions_run_on_replicas() {
    let cluster = RedisCluster::start_with_replicas(3, 1).unwrap();
    if cluster.skip_unless(
        cluster.server_version().has_evalsha_ro(),
        "flagged scripts and EVALSHA_RO need Redis 7.0 or Valkey",
    ) {
        return;
    }
    let client = redis::cluster::ClusterClientBuilder::new(cluster.urls())
        .read_routing_strategy(redis::cluster_read_routing::RandomReplicaStrategy)
        .build()
        .unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    let keys = key_per_node(&cluster);
    for key in &keys {
        redis::cmd("SET")
            .arg(key)
            .arg(7)
            .exec_async(&mut con)
            .await
            .unwrap();
    }
    flush_all(&cluster);
    let on_replicas = |name: &str| -> u64 {
        cluster
            .replicas()
            .iter()
            .map(|r| command_calls(&mut r.connection(), name))
            .sum()
    };
    // Replication is asynchronous: wait until every replica has the keys.
    for replica in cluster.replicas() {
        let started = std::time::Instant::now();
        while redis::cmd("DBSIZE")
            .query::<i64>(&mut replica.connection())
            .unwrap()
            < 1
        {
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    for key in &keys {
        assert_eq!(
            read_counter(key).invoke_async(&mut con).await.unwrap(),
            Some(7)
        );
    }
    assert!(
        on_replicas("evalsha_ro") >= 3,
        "EVALSHA_RO reached the replicas"
    );
    assert!(
        cluster
            .replicas()
            .iter()
            .all(|r| resident(r, READ_COUNTER.sha1())),
        "each replica loaded the script on its NOSCRIPT"
    );
    if cluster.skip_unless(
        cluster.server_version().has_functions(),
        "Redis Functions need Redis 7.0 or Valkey",
    ) {
        return;
    }
    for key in &keys {
        assert_eq!(
            read_counter_fn(key).invoke_async(&mut con).await.unwrap(),
            Some(7)
        );
    }
    assert!(
        on_replicas("fcall_ro") >= 1,
        "FCALL_RO reached the replicas"
    );
    // A batch of both, after every function and script was dropped: each
    // part loads what it calls on its slot's primary.
    for node in cluster.nodes() {
        redis::cmd("FUNCTION")
            .arg("FLUSH")
            .exec(&mut node.connection())
            .unwrap();
    }
    flush_all(&cluster);
    let mut p = redlua::pipe();
    let handles: Vec<_> = keys
        .iter()
        .map(|k| (p.add(read_counter(k)), p.add(read_counter_fn(k))))
        .collect();
    let results = p.query_async(&mut con).await.unwrap();
    for (script, function) in handles {
        assert_eq!(results.get(script).unwrap(), Some(7));
        assert_eq!(results.get(function).unwrap(), Some(7));
    }
}
