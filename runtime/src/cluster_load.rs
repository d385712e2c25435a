//! Loading scripts on every node of a Redis Cluster, primaries and
//! replicas, each node bounded in time and reported on its own.
//!
//! Every node has its own script cache, replicas included (a primary does
//! not pass `SCRIPT LOAD` on to its replicas, and read-only scripts run on
//! replicas). The node list comes from `CLUSTER NODES`, asked of a primary;
//! each node is then sent its loads by address.
//!
//! A node that is down or frozen must not hold the others up. The async
//! loads run concurrently, each under a timeout. The sync cluster client
//! cannot be given a timeout per request (and when it opens a connection
//! to a node it has not talked to yet, its handshake waits for the node
//! however long that takes: 34.8 s measured on a SIGSTOPped replica), so
//! each node is first asked for a `PING` on a socket of our own, all nodes
//! at once, bounded by the timeout; only the nodes that answer anything
//! (`+PONG`, `-NOAUTH`, a TLS alert: any byte or a close) are sent their
//! loads. A node that freezes between that probe and its loads can still
//! block the sync load; the async one cannot.

use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{ErrorKind, RedisError, Value};

use crate::error::classify;
use crate::error::Error;
use crate::load::{check_loads, distinct, load_reply};
use crate::Script;

/// The per-node time [`load_cluster`] and [`load_cluster_async`] take
/// when given `None`: 2 seconds.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(2);

/// What [`load_cluster`] or [`load_cluster_async`] did on each node.
#[derive(Debug, Clone, Default)]
pub struct ClusterLoad {
    scripts: usize,
    nodes: Vec<NodeLoad>,
}

impl ClusterLoad {
    /// How many distinct scripts were loaded on each node that succeeded.
    pub fn scripts(&self) -> usize {
        self.scripts
    }

    /// Every node of the cluster, primaries first, with what became of it.
    pub fn nodes(&self) -> &[NodeLoad] {
        &self.nodes
    }

    /// The nodes where loading failed (down, frozen past the timeout, or
    /// refusing), with their errors.
    pub fn failed(&self) -> impl Iterator<Item = &NodeLoad> {
        self.nodes.iter().filter(|n| n.error.is_some())
    }

    /// True when every node has every script.
    pub fn is_complete(&self) -> bool {
        self.failed().next().is_none()
    }
}

impl fmt::Display for ClusterLoad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loaded = self.nodes.iter().filter(|n| n.error.is_none()).count();
        write!(
            f,
            "{} scripts loaded on {loaded} of {} cluster nodes",
            self.scripts,
            self.nodes.len()
        )?;
        for node in self.failed() {
            if let Some(e) = &node.error {
                match e.redis_error() {
                    Some(e) => write!(f, "\n  {} ({}): {e}", node.address, node.role())?,
                    None => write!(f, "\n  {} ({}): {e}", node.address, node.role())?,
                }
            }
        }
        Ok(())
    }
}

/// One node of a [`ClusterLoad`].
#[derive(Debug, Clone)]
pub struct NodeLoad {
    address: String,
    primary: bool,
    error: Option<Error>,
}

impl NodeLoad {
    /// `host:port`, as the cluster announces the node.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// True for a primary, false for a replica.
    pub fn is_primary(&self) -> bool {
        self.primary
    }

    /// Why this node does not have the scripts; `None` when it has them.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    fn role(&self) -> &'static str {
        if self.primary {
            "primary"
        } else {
            "replica"
        }
    }
}

/// A node of `CLUSTER NODES`.
pub(crate) struct Node {
    host: String,
    port: u16,
    pub(crate) primary: bool,
}

impl Node {
    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub(crate) fn route(&self) -> SingleNodeRoutingInfo {
        SingleNodeRoutingInfo::ByAddress {
            host: self.host.clone(),
            port: self.port,
        }
    }
}

/// The nodes of a `CLUSTER NODES` reply that have an address, primaries
/// first: `<id> <host:port@bus[,hostname]> <flags> <primary> ...`.
pub(crate) fn parse_nodes(text: &str) -> Vec<Node> {
    let mut nodes: Vec<Node> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (_id, addr, flags) = (fields.next()?, fields.next()?, fields.next()?);
            let flags: Vec<&str> = flags.split(',').collect();
            if flags.iter().any(|f| matches!(*f, "noaddr" | "handshake")) {
                return None;
            }
            let addr = addr.split(['@', ',']).next()?;
            let (host, port) = addr.rsplit_once(':')?;
            let port = port.parse().ok().filter(|p| *p != 0)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            (!host.is_empty()).then(|| Node {
                host: host.to_string(),
                port,
                primary: flags.contains(&"master"),
            })
        })
        .collect();
    nodes.sort_by_key(|n| !n.primary);
    nodes
}

fn timed_out(what: &str, timeout: Duration) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{what}: no answer within {} ms", timeout.as_millis()),
    ))
}

/// Whether the node answers at all within `timeout`: any byte or a closed
/// connection is an answer; a connection refused, or silence, is not.
fn probe(node: &Node, timeout: Duration) -> Result<(), RedisError> {
    let addr = (node.host.as_str(), node.port)
        .to_socket_addrs()
        .map_err(RedisError::from)?
        .next()
        .ok_or_else(|| RedisError::from((ErrorKind::Io, "no address for the node")))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
    match stream.read(&mut [0u8; 64]) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(timed_out("PING", timeout))
        }
        // Reset by a TLS listener, say: the node is alive.
        Err(_) => Ok(()),
    }
}

/// What `node` is sent: every script, but a replica no function. A
/// replica gets its primary's libraries by replication, and answers
/// `FUNCTION LOAD` with `READONLY You can't write against a read only
/// replica.` (Redis 7.0.15, Valkey 9.1.2).
fn loads_for(node: &Node, scripts: &[&'static Script]) -> Vec<&'static Script> {
    scripts
        .iter()
        .copied()
        .filter(|s| node.primary || !s.is_function())
        .collect()
}

/// The node list could not be read, so no node was loaded: says so, with
/// the client's error (named after the first script, as every load error
/// is).
fn topology_error(scripts: &[&'static Script], e: RedisError) -> Error {
    let source = RedisError::from((
        e.kind(),
        "cannot read the cluster's nodes (CLUSTER NODES), so no node was loaded",
        e.to_string(),
    ));
    classify::from_redis(scripts[0], source)
}

/// [`parse_nodes`] of the `CLUSTER NODES` text; an error when it lists no
/// node with an address (loading nothing must not look like success).
fn nodes_of(scripts: &[&'static Script], text: &str) -> Result<Vec<Node>, Error> {
    let nodes = parse_nodes(text);
    if nodes.is_empty() {
        let shown: String = text.chars().take(200).collect();
        let e = RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "no node with an address",
            format!("{shown:?}"),
        ));
        return Err(topology_error(scripts, e));
    }
    Ok(nodes)
}

fn report(
    scripts: &[&'static Script],
    nodes: Vec<Node>,
    results: Vec<Result<usize, Error>>,
) -> Result<ClusterLoad, Error> {
    let nodes: Vec<NodeLoad> = nodes
        .iter()
        .zip(results)
        .map(|(node, result)| NodeLoad {
            address: node.address(),
            primary: node.primary,
            error: result.err(),
        })
        .collect();
    if let Some(all_failed) = nodes
        .iter()
        .all(|n| n.error.is_some())
        .then(|| nodes.first().and_then(|n| n.error.clone()))
        .flatten()
    {
        return Err(all_failed);
    }
    Ok(ClusterLoad {
        scripts: scripts.len(),
        nodes,
    })
}

/// The distinct scripts to load and the bound per node; `None` when there
/// is nothing to load (the report is then empty, and nothing is sent).
fn to_load(
    scripts: &[&'static Script],
    per_node: Option<Duration>,
) -> Option<(Vec<&'static Script>, Duration)> {
    let scripts = distinct(scripts.iter().copied());
    (!scripts.is_empty()).then(|| (scripts, per_node.unwrap_or(DEFAULT_NODE_TIMEOUT)))
}

/// Makes `scripts` resident on every node of the cluster, primaries and
/// replicas, through a sync `redis::cluster::ClusterConnection`, each node
/// bounded by `per_node` ([`DEFAULT_NODE_TIMEOUT`] when `None`).
///
/// Nodes that do not answer a `PING` within `per_node` are skipped and
/// reported; the others get one `SCRIPT LOAD` per distinct script (with the
/// SHA1 checked). `Ok` holds the report of every node
/// ([`ClusterLoad::failed`] lists the ones left out); `Err` when the node
/// list could not be read or no node was loaded.
///
/// Use it after connecting and after a failover: a promoted replica that
/// was never loaded has none of its old primary's scripts (calls still
/// heal by loading on `NOSCRIPT`; this saves the round trip). [`load`]
/// on a `ClusterConnection` is this function with the default bound,
/// reduced to `Ok` when every primary was loaded.
///
/// [`load`]: crate::load
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::cluster::ClusterClient::new(vec!["redis://127.0.0.1:7000/"])?;
/// let mut con = client.get_connection()?;
/// let all: Vec<_> = redlua::scripts().collect();
/// let report = redlua::load_cluster(&mut con, &all, None)?;
/// for node in report.failed() {
///     eprintln!("{} not loaded: {:?}", node.address(), node.error());
/// }
/// # Ok(()) }
/// ```
pub fn load_cluster(
    con: &mut redis::cluster::ClusterConnection,
    scripts: &[&'static Script],
    per_node: Option<Duration>,
) -> Result<ClusterLoad, Error> {
    let Some((scripts, timeout)) = to_load(scripts, per_node) else {
        return Ok(ClusterLoad::default());
    };
    let text = con
        .route_command(
            redis::cmd("CLUSTER").arg("NODES"),
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary),
        )
        .and_then(|v| redis::from_redis_value::<String>(v).map_err(RedisError::from))
        .map_err(|e| topology_error(&scripts, e))?;
    let nodes = nodes_of(&scripts, &text)?;
    let probes: Vec<Result<(), RedisError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .iter()
            .map(|node| scope.spawn(move || probe(node, timeout)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(RedisError::from((ErrorKind::Io, "probe panicked"))))
            })
            .collect()
    });
    let results = nodes
        .iter()
        .zip(probes)
        .map(|(node, probe)| {
            probe.map_err(|e| classify::from_redis(scripts[0], e))?;
            let scripts = loads_for(node, &scripts);
            let routing = RoutingInfo::SingleNode(node.route());
            let replies = scripts
                .iter()
                .map(|script| {
                    let load = crate::call::load_cmd(script);
                    load_reply(script, con.route_command(&load, routing.clone()))
                })
                .collect::<Result<Vec<Value>, Error>>()?;
            check_loads(&scripts, Ok(replies))
        })
        .collect();
    report(&scripts, nodes, results)
}

/// [`load_cluster`] on the async cluster connection
/// (`redis::cluster_async::ClusterConnection`): every node, primaries and
/// replicas, loaded concurrently (one pipeline of `SCRIPT LOAD`s each),
/// each bounded by `per_node` ([`DEFAULT_NODE_TIMEOUT`] when `None`).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::cluster::ClusterClient::new(vec!["redis://127.0.0.1:7000/"])?;
/// let mut con = client.get_async_connection().await?;
/// let all: Vec<_> = redlua::scripts().collect();
/// let report = redlua::load_cluster_async(&mut con, &all, None).await?;
/// println!("{report}");
/// # Ok(()) }
/// ```
#[cfg(feature = "cluster-async")]
pub async fn load_cluster_async(
    con: &mut redis::cluster_async::ClusterConnection,
    scripts: &[&'static Script],
    per_node: Option<Duration>,
) -> Result<ClusterLoad, Error> {
    let Some((scripts, timeout)) = to_load(scripts, per_node) else {
        return Ok(ClusterLoad::default());
    };
    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary);
    let mut ask = redis::cmd("CLUSTER");
    ask.arg("NODES");
    let text = match within(timeout, con.route_command(ask, routing)).await {
        Some(reply) => {
            reply.and_then(|v| redis::from_redis_value::<String>(v).map_err(RedisError::from))
        }
        None => Err(timed_out("CLUSTER NODES", timeout)),
    }
    .map_err(|e| topology_error(&scripts, e))?;
    let nodes = nodes_of(&scripts, &text)?;
    let loads = nodes.iter().map(|node| {
        let mut con = con.clone();
        let scripts = loads_for(node, &scripts);
        let mut pipe = redis::Pipeline::with_capacity(scripts.len());
        for script in &scripts {
            pipe.add_command(crate::call::load_cmd(script));
        }
        async move {
            if scripts.is_empty() {
                return Ok(0);
            }
            let sent = con.route_pipeline(pipe, 0, scripts.len(), node.route());
            let replies = match within(timeout, sent).await {
                Some(replies) => replies,
                None => Err(timed_out("SCRIPT LOAD", timeout)),
            };
            check_loads(&scripts, replies)
        }
    });
    let results = futures_util::future::join_all(loads).await;
    report(&scripts, nodes, results)
}

/// `fut`'s output, or `None` if it takes longer than `timeout`: Tokio's
/// timer with feature `tokio`, else [`within_by_thread`].
#[cfg(feature = "cluster-async")]
async fn within<F: std::future::Future>(timeout: Duration, fut: F) -> Option<F::Output> {
    #[cfg(feature = "tokio")]
    return tokio::time::timeout(timeout, fut).await.ok();
    #[cfg(not(feature = "tokio"))]
    within_by_thread(timeout, fut).await
}

/// [`within`] on any executor (`smol`): a thread sleeps, then wakes the
/// waiting task through `event-listener`. A cluster load is rare, and its
/// threads end with their timeout.
#[cfg(feature = "cluster-async")]
#[cfg_attr(feature = "tokio", allow(dead_code))]
async fn within_by_thread<F: std::future::Future>(timeout: Duration, fut: F) -> Option<F::Output> {
    use futures_util::future::{select, Either};
    let event = std::sync::Arc::new(event_listener::Event::new());
    let listener = event.listen();
    std::thread::spawn(move || {
        std::thread::sleep(timeout);
        event.notify(usize::MAX);
    });
    match select(std::pin::pin!(fut), listener).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_lines_give_addresses_and_roles() {
        let text = "\
07c3 127.0.0.1:30004@31004,host-a slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460
aaaa :0@0 master,noaddr - 0 0 0 disconnected
bbbb ::1:30005@31005 slave,fail 67ed 0 0 5 connected
";
        let nodes = parse_nodes(text);
        let got: Vec<(String, bool)> = nodes.iter().map(|n| (n.address(), n.primary)).collect();
        assert_eq!(
            got,
            [
                ("127.0.0.1:30002".to_string(), true),
                ("127.0.0.1:30001".to_string(), true),
                ("127.0.0.1:30004".to_string(), false),
                ("[::1]:30005".to_string(), false),
            ]
        );
    }

    #[cfg(feature = "cluster-async")]
    #[tokio::test]
    async fn the_executor_free_timeout_ends_a_silent_wait_and_passes_an_answer() {
        let started = std::time::Instant::now();
        let silent = within_by_thread(Duration::from_millis(50), std::future::pending::<()>());
        assert_eq!(silent.await, None);
        assert!(started.elapsed() >= Duration::from_millis(50));
        let answered = within_by_thread(Duration::from_secs(5), async { 7 });
        assert_eq!(answered.await, Some(7));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_node_list_without_nodes_is_an_error_not_an_empty_success() {
        let err = match nodes_of(&[&crate::batch::tests_support::COUNT], "garbage\n") {
            Err(e) => e,
            Ok(_) => panic!("an empty node list was taken for a cluster"),
        };
        let text = err.to_string();
        assert!(text.contains("CLUSTER NODES"), "{text}");
        assert!(text.contains("no node with an address"), "{text}");
    }
}
