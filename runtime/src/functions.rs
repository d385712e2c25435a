//! Pruning the Redis Functions libraries that content addressing leaves
//! behind: every version of a `#[redis_function]` script is a library of
//! its own, and none is ever replaced.

use std::collections::{HashMap, HashSet};

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{ErrorKind, RedisError, Value};

use crate::error::Error;
use crate::load::scripts;

/// What an error of pruning names in place of a script.
const PRUNE: &str = "prune_functions";

/// The start of the description redlua gives each function: the package
/// name follows (redlua-script's `function::DESCRIPTION_PREFIX`).
const DESCRIPTION_PREFIX: &str = "redlua ";

/// Deletes (`FUNCTION DELETE`) the libraries that `#[redis_function]`
/// loaded for this program's packages and that this program no longer
/// contains, except those named in `keep`. Returns the names deleted.
///
/// A library is considered only when all of this holds, so other programs'
/// libraries and hand-written ones are never touched:
/// - its name has redlua's shape, `<name>_<16 hex>`, and its one function
///   has the same name;
/// - the function's description is redlua's, naming a package (Cargo
///   package) that declares a `#[redis_function]` compiled into this
///   program;
/// - no `#[redis_function]` of this program ([`scripts`](crate::scripts))
///   has that name, and it is not in `keep`.
///
/// **During a rolling deploy** the old version's libraries are still in
/// use. Deleting one never makes the old version run the wrong code (its
/// names are its own): its next call finds its function missing, loads it
/// again and runs it, one extra round trip. To spare even that, prune
/// after the last old instance is gone, or pass the old version's names in
/// `keep` (each is [`Script::function_name`](crate::Script::function_name),
/// also shown by `FUNCTION LIST` and in the generated function's docs).
/// A library deleted meanwhile by another instance is not an error.
///
/// On redis-rs's cluster connections (sync, and async with feature
/// `cluster-async`) every primary is pruned: each lists and deletes its
/// own libraries (`FUNCTION LIST` would otherwise reach one node), and the
/// names deleted anywhere are returned once each.
///
/// ```
/// use redlua::redis_function;
///
/// #[redis_function("multiply.lua")]
/// fn multiply(key: &str, multiplier: i64) -> i64;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "testing")] {
/// # let server = redlua::testing::RedisServer::start()?;
/// # if server.server_version().has_functions() {
/// # let mut con = server.connection();
/// redlua::load(&mut con, &[MULTIPLY])?;
/// // Nothing of an older version is loaded here: nothing to delete.
/// assert!(redlua::prune_functions(&mut con, &[])?.is_empty());
/// # }
/// # }
/// # Ok(()) }
/// ```
pub fn prune_functions<C>(con: &mut C, keep: &[&str]) -> Result<Vec<String>, Error>
where
    C: redis::ConnectionLike + ?Sized,
{
    if let Some(cluster) = crate::cluster::as_sync_cluster(con) {
        let nodes = cluster.route_command(
            redis::cmd("CLUSTER").arg("NODES"),
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary),
        );
        let mut deleted = Vec::new();
        for node in primaries(nodes)? {
            let routing = RoutingInfo::SingleNode(node.route());
            let mut on_node = |cmd: &redis::Cmd| cluster.route_command(cmd, routing.clone());
            deleted.extend(prune_with(&mut on_node, keep)?);
        }
        return Ok(once_each(deleted));
    }
    prune_with(&mut |cmd| con.req_command(cmd), keep)
}

/// [`prune_functions`] through `send`, which sends one command to one node.
fn prune_with(
    send: &mut dyn FnMut(&redis::Cmd) -> redis::RedisResult<Value>,
    keep: &[&str],
) -> Result<Vec<String>, Error> {
    let listed = send(&function_cmd("LIST", None)).map_err(redis_error)?;
    let doomed = doomed(listed, keep)?;
    let mut deleted = Vec::with_capacity(doomed.len());
    for name in doomed {
        if deleted_or_gone(send(&function_cmd("DELETE", Some(&name))))? {
            deleted.push(name);
        }
    }
    Ok(deleted)
}

/// The primaries of a `CLUSTER NODES` reply.
fn primaries(reply: redis::RedisResult<Value>) -> Result<Vec<crate::cluster_load::Node>, Error> {
    let text: String = reply
        .and_then(|v| redis::from_redis_value(v).map_err(RedisError::from))
        .map_err(redis_error)?;
    let nodes: Vec<_> = crate::cluster_load::parse_nodes(&text)
        .into_iter()
        .filter(|n| n.primary)
        .collect();
    if nodes.is_empty() {
        return Err(redis_error(RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "CLUSTER NODES listed no primary",
        ))));
    }
    Ok(nodes)
}

/// `names` without repeats, in first-seen order.
fn once_each(names: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

/// [`prune_functions`] on an async connection (feature `aio`).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let mut con = client.get_multiplexed_async_connection().await?;
/// let deleted = redlua::prune_functions_async(&mut con, &[]).await?;
/// println!("deleted {deleted:?}");
/// # Ok(()) }
/// ```
#[cfg(feature = "aio")]
pub async fn prune_functions_async<C>(con: &mut C, keep: &[&str]) -> Result<Vec<String>, Error>
where
    C: redis::aio::ConnectionLike + ?Sized,
{
    #[cfg(feature = "cluster-async")]
    if let Some(cluster) = crate::cluster::as_async_cluster(con) {
        let mut ask = redis::cmd("CLUSTER");
        ask.arg("NODES");
        let nodes = cluster
            .route_command(
                ask,
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary),
            )
            .await;
        let mut deleted = Vec::new();
        for node in primaries(nodes)? {
            let routing = RoutingInfo::SingleNode(node.route());
            let listed = cluster
                .route_command(function_cmd("LIST", None), routing.clone())
                .await
                .map_err(redis_error)?;
            for name in doomed(listed, keep)? {
                let reply = cluster
                    .route_command(function_cmd("DELETE", Some(&name)), routing.clone())
                    .await;
                if deleted_or_gone(reply)? {
                    deleted.push(name);
                }
            }
        }
        return Ok(once_each(deleted));
    }
    let listed = con
        .req_packed_command(&function_cmd("LIST", None))
        .await
        .map_err(redis_error)?;
    let doomed = doomed(listed, keep)?;
    let mut deleted = Vec::with_capacity(doomed.len());
    for name in doomed {
        let reply = con
            .req_packed_command(&function_cmd("DELETE", Some(&name)))
            .await;
        if deleted_or_gone(reply)? {
            deleted.push(name);
        }
    }
    Ok(deleted)
}

fn function_cmd(sub: &str, library: Option<&str>) -> redis::Cmd {
    let mut cmd = redis::cmd("FUNCTION");
    cmd.arg(sub).arg(library);
    cmd
}

fn redis_error(source: RedisError) -> Error {
    Error::Redis {
        script: PRUNE,
        source,
    }
}

/// True when the library was deleted, false when it was already gone
/// (`ERR Library not found`: another instance pruned it first).
fn deleted_or_gone(reply: redis::RedisResult<Value>) -> Result<bool, Error> {
    match reply {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("ERR") && e.detail() == Some("Library not found") => Ok(false),
        Err(e) => Err(redis_error(e)),
    }
}

/// The libraries of a `FUNCTION LIST` reply that [`prune_functions`]
/// deletes, given the program's own functions.
fn doomed(listed: Value, keep: &[&str]) -> Result<Vec<String>, Error> {
    let mut spared: HashSet<&str> = keep.iter().copied().collect();
    let mut packages = HashSet::new();
    for script in scripts() {
        if let (Some(name), Some(library)) = (script.function_name(), script.library()) {
            spared.insert(name);
            packages.extend(package_of(library));
        }
    }
    let libraries: Vec<HashMap<String, Value>> = redis::from_redis_value(listed).map_err(|e| {
        redis_error(RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "FUNCTION LIST",
            e.to_string(),
        )))
    })?;
    let mut out = Vec::new();
    for library in libraries {
        let Some(name) = text(library.get("library_name")) else {
            continue;
        };
        if spared.contains(name.as_str()) || !is_library_name(&name) {
            continue;
        }
        let functions: Vec<HashMap<String, Value>> = library
            .get("functions")
            .and_then(|v| redis::from_redis_value_ref(v).ok())
            .unwrap_or_default();
        let [function] = &functions[..] else {
            continue;
        };
        let ours = text(function.get("name")).as_deref() == Some(name.as_str())
            && text(function.get("description"))
                .as_deref()
                .and_then(package_of)
                .is_some_and(|p| packages.contains(p));
        if ours {
            out.push(name);
        }
    }
    Ok(out)
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(|v| redis::from_redis_value_ref::<Option<String>>(v).ok())
        .flatten()
}

/// The package named in a redlua function's description: in the library
/// text (`description='redlua <package> lua/x.lua'`) or as `FUNCTION LIST`
/// shows it (`redlua <package> lua/x.lua`).
fn package_of(text: &str) -> Option<&str> {
    let at = text.find(DESCRIPTION_PREFIX)?;
    if at > 0 && !text[..at].ends_with("description='") {
        return None;
    }
    let rest = &text[at + DESCRIPTION_PREFIX.len()..];
    let end = rest.find([' ', '\''])?;
    Some(&rest[..end]).filter(|p| !p.is_empty())
}

/// `<letters, digits, _>_<16 lowercase hex>`, the shape of the names
/// `#[redis_function]` gives (redlua-script's `function::is_library_name`).
fn is_library_name(name: &str) -> bool {
    let Some((stem, hash)) = name.rsplit_once('_') else {
        return false;
    };
    !stem.is_empty()
        && hash.len() == 16
        && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_is_read_from_the_library_and_from_function_list() {
        assert_eq!(
            package_of("redis.register_function{function_name='f_0123456789abcdef', flags={}, description='redlua my-app lua/f.lua', callback=..."),
            Some("my-app")
        );
        assert_eq!(package_of("redlua my-app lua/f.lua"), Some("my-app"));
        assert_eq!(package_of("made by hand; redlua app x"), None);
        assert_eq!(package_of("redlua "), None);
    }

    #[test]
    fn library_names_have_redluas_shape() {
        assert!(is_library_name("create_status_3f9a1c2e0b4d5a6f"));
        assert!(!is_library_name("create_status_3f9a1c2e"));
        assert!(!is_library_name("mylib"));
        assert!(!is_library_name("_3f9a1c2e0b4d5a6f"));
    }
}
