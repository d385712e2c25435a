//! Script calls, batches and preloading on a real Redis Cluster: three
//! primaries on loopback ports, started (and stopped) by
//! `redlua::testing::RedisCluster`, with the `redis` crate's sync and async
//! cluster clients.

use redlua::testing::{command_calls, RedisCluster, RedisServer};
use redlua::{redis_script, BatchFailure, ClusterRefusal, EntryStatus, Error, Outcome};

#[redis_script("pipeline/count.lua")]
fn count(counter: &str) -> i64;

#[redis_script("multiply.lua")]
fn multiply(key: &str, multiplier: i64) -> i64;

#[redis_script("push_and_sum.lua")]
fn push_and_sum(list: &str, sum: &str, values: &[i64]) -> i64;

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
    assert_eq!(
        redlua::load_cluster_async(&mut con, &scripts)
            .await
            .unwrap(),
        2
    );
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

#[tokio::test]
async fn async_batch_across_slots_is_not_sent() {
    let (cluster, client) = start();
    let keys = key_per_node(&cluster);
    let mut con = client.get_async_connection().await.unwrap();
    let mut p = redlua::pipe();
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
    assert_eq!(stored(&cluster, &keys[0]), None);
    assert_eq!(stored(&cluster, &keys[1]), None);
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
