//! Reading the replies of a sent batch: sorts them into [`Results`] or a
//! [`BatchError`] that says, entry by entry, which ran.

use redis::{Cmd, RedisError, ServerError, Value};

use super::pipeline::{same_script, Item, Pipeline};
use super::report::{BatchError, BatchFailure, EntryReport, EntryStatus};
use super::results::{Results, Slot};
use crate::error::classify;
use crate::error::{Error, Outcome};
use crate::load::{load_failure, LoadFailure};
use crate::Script;

impl Pipeline {
    /// Sorts the replies of the whole wire batch into results or a
    /// [`BatchError`].
    pub(super) fn finish(&self, replies: redis::RedisResult<Vec<Value>>) -> Result<Results, Error> {
        let replies = match replies {
            Ok(r) => r,
            // Refused before anything was written: no entry ran.
            Err(e) if Outcome::of_redis_error(&e) == Outcome::NotSent => {
                return Err(self.batch_error(
                    BatchFailure::Connection,
                    |_| (EntryStatus::NotRun, None),
                    Vec::new(),
                    None,
                    Some(e),
                    None,
                ));
            }
            Err(e) => {
                return Err(self.unknown(BatchFailure::Connection, None, Some(e)));
            }
        };
        if replies.len() != self.wire_len() {
            let what = format!("{} replies to {} commands", replies.len(), self.wire_len());
            return Err(self.unknown(BatchFailure::Protocol, Some(what), None));
        }
        let nloads = self.loads().len();
        let mut replies = replies.into_iter();
        if !self.atomic {
            let loads: Vec<Value> = replies.by_ref().take(nloads).collect();
            return self.settle(loads, replies.collect());
        }

        // MULTI, the QUEUED replies, EXEC.
        let multi = replies.next().unwrap_or(Value::Nil);
        let queued: Vec<Value> = replies.by_ref().take(nloads + self.items.len()).collect();
        let exec = replies.next().unwrap_or(Value::Nil);
        if let Value::ServerError(e) = &multi {
            // e.g. "MULTI calls can not be nested": the connection was
            // already in a transaction, so the entries went into it.
            let what = format!("MULTI was refused: {}", server_error_text(e));
            return Err(self.unknown(BatchFailure::Protocol, Some(what), None));
        }
        match exec {
            Value::Array(values) if values.len() == queued.len() => {
                let mut values = values.into_iter();
                let loads: Vec<Value> = values.by_ref().take(nloads).collect();
                self.settle(loads, values.collect())
            }
            Value::Nil => Err(self.batch_error(
                BatchFailure::WatchAborted,
                |_| (EntryStatus::NotRun, None),
                Vec::new(),
                None,
                None,
                None,
            )),
            Value::ServerError(e) => Err(self.discarded(&queued, e)),
            other => {
                let what = format!("EXEC answered {}", describe(&other));
                Err(self.unknown(BatchFailure::Protocol, Some(what), None))
            }
        }
    }

    /// The replies of an executed batch: the loads', then the entries'.
    fn settle(&self, loads: Vec<Value>, entries: Vec<Value>) -> Result<Results, Error> {
        let failed_loads: Vec<Option<LoadFailure>> = self
            .loads()
            .iter()
            .zip(&loads)
            .map(|(script, reply)| load_failure(script, reply))
            .collect();
        let mut slots = Vec::with_capacity(entries.len());
        let mut not_run: Vec<(usize, String)> = Vec::new();
        for (i, (item, mut reply)) in self.items.iter().zip(entries).enumerate() {
            if let Some(script) = item.script() {
                if classify::retry_value(script, &reply) == Some(classify::Retry::NoScript) {
                    let load = self
                        .loads()
                        .iter()
                        .position(|s| same_script(s, script))
                        .map(|k| failed_loads[k].as_ref());
                    let reason = match load {
                        Some(Some(failure)) => {
                            let reason = format!("its {} failed: {failure}", script.load_command());
                            // The load's error says more than NOSCRIPT (a
                            // compile error with its line, NOPERM, ...).
                            if let LoadFailure::Error(e) = failure {
                                reply = Value::ServerError(e.clone());
                            }
                            reason
                        }
                        Some(None) => format!(
                            "{}: {} between the batch's {} and this call",
                            script.miss_code(),
                            if script.is_function() {
                                "the functions were emptied"
                            } else {
                                "the script cache was emptied"
                            },
                            script.load_command()
                        ),
                        None => format!(
                            "{}: the {} is not loaded on this server (the batch was built \
                             with assume_loaded())",
                            script.miss_code(),
                            if script.is_function() {
                                "function"
                            } else {
                                "script"
                            }
                        ),
                    };
                    not_run.push((i, reason));
                }
            }
            slots.push(Slot::Reply(reply));
        }
        let results = Results {
            pipe: self.id,
            slots,
        };
        if not_run.is_empty() {
            return Ok(results);
        }
        let load_failures = self.listed_load_failures(failed_loads);
        Err(self.batch_error(
            BatchFailure::NoScript,
            // `not_run` is in index order.
            |i| match not_run.binary_search_by_key(&i, |(k, _)| *k) {
                Ok(k) => (EntryStatus::NotRun, Some(not_run[k].1.clone())),
                Err(_) => (EntryStatus::Ran, None),
            },
            load_failures,
            Some(results),
            None,
            None,
        ))
    }

    /// EXEC answered an error (EXECABORT): nothing ran. Names the commands
    /// Redis refused when they were queued.
    fn discarded(&self, queued: &[Value], exec: ServerError) -> Error {
        let nloads = self.loads().len();
        let load_failures = self
            .loads()
            .iter()
            .zip(queued)
            .filter_map(|(script, reply)| match reply {
                Value::ServerError(e) => Some((*script, server_error_text(e))),
                _ => None,
            })
            .collect();
        let source = RedisError::from(exec);
        self.batch_error(
            BatchFailure::Discarded,
            |i| match queued.get(nloads + i) {
                Some(Value::ServerError(e)) => (
                    EntryStatus::NotRun,
                    Some(format!("refused when queued: {}", server_error_text(e))),
                ),
                _ => (EntryStatus::NotRun, None),
            },
            load_failures,
            None,
            Some(source),
            None,
        )
    }

    /// Refused before sending: no entry ran.
    pub(super) fn not_sent(&self, why: &str, source: Option<RedisError>) -> Error {
        self.batch_error(
            BatchFailure::NotSent,
            |_| (EntryStatus::NotRun, None),
            Vec::new(),
            None,
            source,
            Some(why.to_owned()),
        )
    }

    /// A failure after which nobody knows which entries ran.
    fn unknown(
        &self,
        kind: BatchFailure,
        detail: Option<String>,
        source: Option<RedisError>,
    ) -> Error {
        self.batch_error(
            kind,
            |_| (EntryStatus::Unknown, None),
            Vec::new(),
            None,
            source,
            detail,
        )
    }

    fn listed_load_failures(
        &self,
        failed: Vec<Option<LoadFailure>>,
    ) -> Vec<(&'static Script, String)> {
        self.loads()
            .iter()
            .zip(failed)
            .filter_map(|(s, f)| f.map(|f| (*s, f.to_string())))
            .collect()
    }

    pub(super) fn batch_error(
        &self,
        kind: BatchFailure,
        status: impl Fn(usize) -> (EntryStatus, Option<String>),
        load_failures: Vec<(&'static Script, String)>,
        results: Option<Results>,
        source: Option<RedisError>,
        detail: Option<String>,
    ) -> Error {
        let never_sent = kind == BatchFailure::NotSent
            || source
                .as_ref()
                .is_some_and(|e| Outcome::of_redis_error(e) == Outcome::NotSent);
        let entries = (0..self.items.len())
            .map(|index| {
                let (status, reason) = status(index);
                let outcome = match status {
                    EntryStatus::Ran => Outcome::Ran,
                    EntryStatus::Unknown => Outcome::MayHaveRun,
                    EntryStatus::NotRun if never_sent => Outcome::NotSent,
                    EntryStatus::NotRun => Outcome::Refused,
                };
                self.report(index, outcome, reason)
            })
            .collect();
        Error::Batch(Box::new(BatchError {
            kind,
            atomic: self.atomic,
            entries,
            load_failures,
            results,
            source,
            detail,
            parts: 1,
        }))
    }

    /// The report of entry `index`.
    pub(super) fn report(
        &self,
        index: usize,
        outcome: Outcome,
        reason: Option<String>,
    ) -> EntryReport {
        let item = &self.items[index];
        EntryReport {
            index,
            script: item.script(),
            command: match item {
                Item::Script { .. } => None,
                Item::Cmd(cmd) => Some(command_name(cmd)),
            },
            outcome,
            reason,
        }
    }
}

/// A short description of an unexpected reply.
fn describe(v: &Value) -> String {
    match v {
        Value::Nil => "null".to_owned(),
        Value::Int(n) => format!("integer {n}"),
        Value::Okay => "OK".to_owned(),
        Value::SimpleString(s) => format!("status {s:?}"),
        Value::BulkString(b) => format!("a bulk string of {} bytes", b.len()),
        Value::Array(a) => format!("an array of {}", a.len()),
        other => {
            let text = format!("{other:?}");
            text.chars().take(80).collect()
        }
    }
}

fn server_error_text(e: &ServerError) -> String {
    match e.details() {
        Some(d) if !e.code().is_empty() => format!("{} {d}", e.code()),
        Some(d) => d.to_owned(),
        None => e.code().to_owned(),
    }
}

/// `SET`, or `SCRIPT FLUSH` for commands with subcommands.
pub(super) fn command_name(cmd: &Cmd) -> String {
    const CONTAINERS: &[&str] = &[
        "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "LATENCY", "MEMORY", "MODULE",
        "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO",
    ];
    let mut words = cmd.args_iter().map(|arg| match arg {
        redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).to_ascii_uppercase(),
        _ => "?".to_owned(),
    });
    let mut name = words.next().unwrap_or_default();
    if CONTAINERS.contains(&name.as_str()) {
        if let Some(sub) = words.next().filter(|s| s.len() <= 32) {
            name.push(' ');
            name.push_str(&sub);
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::pipe;
    use crate::batch::tests_support::{batch, count, server_error, Canned};
    use redis::ErrorKind;

    #[test]
    fn the_wrong_number_of_replies_is_a_protocol_failure() {
        let mut p = pipe();
        p.add(count("a"));
        let e = batch(p.query(&mut Canned(vec![Value::Okay])));
        assert_eq!(e.kind(), BatchFailure::Protocol);
        assert_eq!(e.unknown(), vec![0]);
        assert_eq!(
            e.to_string(),
            "pipeline of 1 entry: unexpected replies; whether any entry ran is unknown: \
             1 replies to 2 commands"
        );
    }

    #[test]
    fn a_refused_multi_is_a_protocol_failure() {
        let mut p = pipe();
        p.atomic().assume_loaded();
        p.add(count("a"));
        let replies = vec![
            server_error(b"-ERR MULTI calls can not be nested\r\n"),
            server_error(b"+QUEUED\r\n"),
            Value::Array(vec![Value::Int(1)]),
        ];
        let e = batch(p.query(&mut Canned(replies)));
        assert_eq!(e.kind(), BatchFailure::Protocol);
        assert!(e
            .to_string()
            .contains("MULTI was refused: ERR MULTI calls can not be nested"));
        let r = redis::RedisError::from(Error::Batch(Box::new(e)));
        assert_eq!(r.kind(), ErrorKind::UnexpectedReturnType);
    }

    #[test]
    fn an_odd_exec_reply_is_a_protocol_failure() {
        let mut p = pipe();
        p.atomic().assume_loaded();
        p.add(count("a"));
        let replies = vec![Value::Okay, Value::Okay, Value::Int(3)];
        let e = batch(p.query(&mut Canned(replies)));
        assert_eq!(e.kind(), BatchFailure::Protocol);
        assert!(e.to_string().ends_with("EXEC answered integer 3"), "{e}");
    }

    #[test]
    fn a_wrong_sha_from_script_load_is_named_when_the_call_then_fails() {
        let mut p = pipe();
        let h = p.add(count("a"));
        let replies = vec![
            Value::BulkString(b"ffffffffffffffffffffffffffffffffffffffff".to_vec()),
            server_error(b"-NOSCRIPT No matching script. Please use EVAL.\r\n"),
        ];
        let e = batch(p.query(&mut Canned(replies)));
        assert_eq!(e.not_run(), vec![0]);
        let why = e.entries()[0].reason().unwrap();
        assert!(
            why.starts_with("its SCRIPT LOAD failed: the server answered ffff"),
            "{why}"
        );
        assert!(
            e.to_string()
                .contains("#0 script `count`: its SCRIPT LOAD failed: the server answered ffff"),
            "{e}"
        );
        let err = e.results().unwrap().get(h).unwrap_err();
        assert_eq!(err.code(), Some("NOSCRIPT"));
    }

    #[test]
    fn command_names() {
        assert_eq!(command_name(redis::cmd("set").arg("k").arg("v")), "SET");
        assert_eq!(
            command_name(redis::cmd("SCRIPT").arg("flush")),
            "SCRIPT FLUSH"
        );
        assert_eq!(command_name(&redis::cmd("CONFIG")), "CONFIG");
    }
}
