//! The keys of the plain commands of a batch, so that a batch sent to Redis
//! Cluster can be split by slot (`batch::cluster`).
//!
//! redis-rs knows where each command keeps its keys, but its table is
//! crate-private (`RoutingInfo::for_routable`), and a hand-written copy
//! would drift from the servers. So the positions come from the server's
//! own table: `COMMAND INFO` once per command name, kept for the life of
//! the process (a cluster's nodes run one version during normal operation,
//! and key positions have not changed between versions); `COMMAND GETKEYS`
//! for each command whose keys move with its arguments (`movablekeys`:
//! `XREAD`, `ZUNIONSTORE`, `SORT ... STORE`) and for the subcommands of a
//! container (`OBJECT ENCODING key`). A batch of commands already seen
//! costs nothing; a new name costs one round trip, once.

use std::collections::HashMap;
use std::sync::Mutex;

use redis::{Cmd, RedisResult, Value};

/// Where one command keeps its keys, as the server's `COMMAND INFO` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// No keys (`PING`, `TIME`) or a command the server does not know.
    Keyless,
    /// Keys at `first`, `first + step`, ..., up to `last` (negative: from
    /// the end), counting the command's name as argument 0.
    Fixed {
        first: usize,
        last: i64,
        step: usize,
    },
    /// Ask the server for each call (`COMMAND GETKEYS`).
    Movable,
}

static SPECS: Mutex<Option<HashMap<Vec<u8>, Spec>>> = Mutex::new(None);

fn args(cmd: &Cmd) -> Vec<&[u8]> {
    cmd.args_iter()
        .map(|a| match a {
            redis::Arg::Simple(a) => a,
            _ => &[][..],
        })
        .collect()
}

fn name(cmd: &Cmd) -> Vec<u8> {
    args(cmd)
        .first()
        .map_or_else(Vec::new, |n| n.to_ascii_uppercase())
}

fn cached(name: &[u8]) -> Option<Spec> {
    let specs = SPECS.lock().unwrap_or_else(|p| p.into_inner());
    specs.as_ref().and_then(|m| m.get(name).copied())
}

/// The keys of each command, in order. Sends at most two requests on
/// `con` (`COMMAND INFO` for names not seen before, `COMMAND GETKEYS` for
/// movable keys), neither of which touches data.
pub(crate) async fn keys_of<C>(con: &mut C, cmds: &[&Cmd]) -> RedisResult<Vec<Vec<Vec<u8>>>>
where
    C: redis::aio::ConnectionLike + ?Sized,
{
    let mut unknown: Vec<Vec<u8>> = cmds
        .iter()
        .map(|c| name(c))
        .filter(|n| !n.is_empty() && cached(n).is_none())
        .collect();
    unknown.sort();
    unknown.dedup();
    if !unknown.is_empty() {
        let mut info = redis::cmd("COMMAND");
        info.arg("INFO").arg(&unknown);
        let reply = con.req_packed_command(&info).await?;
        learn(&unknown, reply)?;
    }
    let specs: Vec<Spec> = cmds
        .iter()
        .map(|c| cached(&name(c)).unwrap_or(Spec::Keyless))
        .collect();
    let movable: Vec<usize> = (0..cmds.len())
        .filter(|&i| specs[i] == Spec::Movable)
        .collect();
    let mut asked = HashMap::new();
    if !movable.is_empty() {
        let mut p = redis::pipe();
        for &i in &movable {
            p.add_command(
                redis::cmd("COMMAND")
                    .arg("GETKEYS")
                    .arg(args(cmds[i]))
                    .clone(),
            );
        }
        let replies = con.req_packed_commands(&p, 0, movable.len()).await?;
        for (&i, reply) in movable.iter().zip(replies) {
            // An error ("The command has no key arguments", or invalid
            // arguments the server will refuse anyway) means no keys.
            asked.insert(i, bulk_strings(reply));
        }
    }
    Ok(cmds
        .iter()
        .enumerate()
        .map(|(i, cmd)| match specs[i] {
            Spec::Keyless => Vec::new(),
            Spec::Movable => asked.remove(&i).unwrap_or_default(),
            Spec::Fixed { first, last, step } => fixed_keys(&args(cmd), first, last, step),
        })
        .collect())
}

fn fixed_keys(args: &[&[u8]], first: usize, last: i64, step: usize) -> Vec<Vec<u8>> {
    let argc = args.len() as i64;
    let last = if last < 0 { argc + last } else { last };
    let last = usize::try_from(last.min(argc - 1)).unwrap_or(0);
    if first == 0 || first > last {
        return Vec::new();
    }
    (first..=last)
        .step_by(step.max(1))
        .map(|i| args[i].to_vec())
        .collect()
}

fn bulk_strings(reply: Value) -> Vec<Vec<u8>> {
    match reply {
        Value::Array(items) | Value::Set(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::BulkString(b) => Some(b),
                Value::SimpleString(s) => Some(s.into_bytes()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Records the `COMMAND INFO` answer for `names` (one entry each, null for
/// a command the server does not know).
fn learn(names: &[Vec<u8>], reply: Value) -> RedisResult<()> {
    let entries = match reply {
        Value::Array(entries) if entries.len() == names.len() => entries,
        Value::ServerError(e) => return Err(e.into()),
        other => {
            return Err(redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "COMMAND INFO answered an unexpected reply",
                format!("{other:?}"),
            )))
        }
    };
    let mut specs = SPECS.lock().unwrap_or_else(|p| p.into_inner());
    let map = specs.get_or_insert_with(HashMap::new);
    for (name, entry) in names.iter().zip(entries) {
        map.insert(name.clone(), spec_of(&entry));
    }
    Ok(())
}

/// One `COMMAND INFO` entry: `[name, arity, flags, first, last, step,
/// acl categories, tips, key specs, subcommands]` (the first six since
/// Redis 2.8, the rest since 7.0).
fn spec_of(entry: &Value) -> Spec {
    let Value::Array(fields) = entry else {
        return Spec::Keyless;
    };
    let int = |i: usize| match fields.get(i) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    };
    let flags: Vec<&str> = match fields.get(2) {
        Some(Value::Array(f) | Value::Set(f)) => f
            .iter()
            .filter_map(|v| match v {
                Value::SimpleString(s) => Some(s.as_str()),
                Value::BulkString(b) => std::str::from_utf8(b).ok(),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let has_subcommands = matches!(fields.get(9), Some(Value::Array(s)) if !s.is_empty());
    let (first, last, step) = (int(3), int(4), int(5));
    if flags.contains(&"movablekeys") || (first == 0 && has_subcommands) {
        return Spec::Movable;
    }
    match usize::try_from(first) {
        Ok(first) if first > 0 => Spec::Fixed {
            first,
            last,
            step: usize::try_from(step).unwrap_or(1),
        },
        _ => Spec::Keyless,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(first: i64, last: i64, step: i64, flags: &[&str], subcommands: usize) -> Value {
        let flags = flags
            .iter()
            .map(|f| Value::SimpleString((*f).into()))
            .collect();
        let mut fields = vec![
            Value::BulkString(b"x".to_vec()),
            Value::Int(-2),
            Value::Array(flags),
            Value::Int(first),
            Value::Int(last),
            Value::Int(step),
        ];
        if subcommands > 0 {
            fields.extend([
                Value::Array(vec![]),
                Value::Array(vec![]),
                Value::Array(vec![]),
            ]);
            fields.push(Value::Array(vec![Value::Nil; subcommands]));
        }
        Value::Array(fields)
    }

    #[test]
    fn positions_follow_command_info() {
        // GET key; MSET k v k v; DEL k k k.
        let a = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        let get = spec_of(&info(1, 1, 1, &["readonly"], 0));
        let Spec::Fixed { first, last, step } = get else {
            panic!("{get:?}")
        };
        assert_eq!(fixed_keys(&[b"GET", b"k"], first, last, step), a(&["k"]));
        let mset = spec_of(&info(1, -1, 2, &["write"], 0));
        let Spec::Fixed { first, last, step } = mset else {
            panic!("{mset:?}")
        };
        let args: Vec<&[u8]> = vec![b"MSET", b"a", b"1", b"b", b"2"];
        assert_eq!(fixed_keys(&args, first, last, step), a(&["a", "b"]));
        assert_eq!(spec_of(&info(0, 0, 0, &["fast"], 0)), Spec::Keyless);
        assert_eq!(spec_of(&Value::Nil), Spec::Keyless);
        assert_eq!(
            spec_of(&info(0, 0, 0, &["write", "movablekeys"], 0)),
            Spec::Movable
        );
        // OBJECT, XINFO ... on Redis 7+: the keys are the subcommands'.
        assert_eq!(spec_of(&info(0, 0, 0, &[], 5)), Spec::Movable);
        // A command sent with too few arguments has no keys to find.
        assert!(fixed_keys(&[b"GET"], 1, 1, 1).is_empty());
    }
}
