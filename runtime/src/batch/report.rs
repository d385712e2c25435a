//! The report of a batch that did not run as a whole: [`BatchError`],
//! [`BatchFailure`] and, entry by entry, [`EntryReport`] and
//! [`EntryStatus`], with the text people read. Below the code that sends:
//! it imports only the data it reports on.

use std::fmt;

use redis::{ErrorKind, RedisError};

use super::results::Results;
use crate::error::Outcome;
use crate::Script;

/// How many entries a [`BatchError`] lists one by one in its `Display`.
const LISTED: usize = 10;

/// Why a batch did not run as a whole ([`BatchError::kind`]).
///
/// ```
/// use redlua::BatchFailure;
///
/// fn safe_to_resend_everything(kind: BatchFailure) -> bool {
///     matches!(kind, BatchFailure::Discarded | BatchFailure::WatchAborted)
/// }
/// assert!(!safe_to_resend_everything(BatchFailure::NoScript));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchFailure {
    /// Some script entries were answered `NOSCRIPT` and did not run; every
    /// other entry ran (Redis does not roll back, not even in a
    /// transaction). [`BatchError::results`] holds the replies.
    NoScript,
    /// `EXEC` answered `EXECABORT`: Redis refused a command when it was
    /// queued (wrong arity, unknown command, ACL denial), so the
    /// transaction was discarded and no entry ran.
    Discarded,
    /// `EXEC` answered null: a key under `WATCH` changed, so no entry ran.
    WatchAborted,
    /// The connection failed; whether entries ran is unknown.
    Connection,
    /// The replies did not have the expected shape (for example `MULTI`
    /// was refused because the connection was already in a transaction);
    /// whether entries ran is unknown.
    Protocol,
    /// Nothing was sent, so no entry ran: the connection cannot run the
    /// batch safely. A sync `redis::cluster::ClusterConnection` resends a
    /// whole batch after a `MOVED`, `ASK` or `TRYAGAIN` reply to any entry,
    /// which would run the other entries again; on the async cluster
    /// connection an atomic batch over more than one slot, or an entry no
    /// single node can serve, is refused.
    NotSent,
    /// On Redis Cluster, a part of the batch was refused as a whole with
    /// `MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`, `MASTERDOWN`, `LOADING`
    /// or `READONLY` (its slot moved or is migrating, its node is down or
    /// loading) after redis-rs stopped retrying. The part was a
    /// transaction that Redis discarded, so its entries did not run; the
    /// other parts ran (see [`BatchError::entries`]).
    Cluster,
}

/// What became of one queued entry of a batch that failed
/// ([`EntryReport::status`]).
///
/// ```
/// use redlua::EntryStatus;
///
/// fn may_send_again(s: EntryStatus) -> bool {
///     s == EntryStatus::NotRun
/// }
/// assert!(!may_send_again(EntryStatus::Unknown));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryStatus {
    /// The server executed the entry and answered it; the answer (which
    /// may be an error the entry raised) is in [`BatchError::results`].
    Ran,
    /// The entry was not executed: it changed nothing and can be sent
    /// again.
    NotRun,
    /// The connection failed or the replies made no sense: the entry may
    /// or may not have run.
    Unknown,
}

/// One queued entry in a [`BatchError`].
///
/// ```no_run
/// # fn report(e: &redlua::BatchError) {
/// for entry in e.entries() {
///     println!("#{} {} {:?} {}", entry.index(), entry.name(), entry.status(),
///              entry.reason().unwrap_or(""));
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct EntryReport {
    pub(super) index: usize,
    pub(super) script: Option<&'static Script>,
    pub(super) command: Option<String>,
    /// The one record of what happened; [`EntryReport::status`] is its
    /// coarser, older view.
    pub(super) outcome: Outcome,
    pub(super) reason: Option<String>,
}

impl EntryReport {
    /// The entry's position in the pipeline, counting from 0 (as
    /// [`Handle::index`](crate::Handle::index) and [`CmdHandle::index`](crate::CmdHandle::index)).
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// let not_run: Vec<usize> = e.entries().iter()
    ///     .filter(|r| r.status() == redlua::EntryStatus::NotRun)
    ///     .map(|r| r.index())
    ///     .collect();
    /// # }
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The script, for a script call; `None` for a plain command.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// let scripts: Vec<&str> = e.entries().iter()
    ///     .filter_map(|r| r.script())
    ///     .map(|s| s.name())
    ///     .collect();
    /// # }
    /// ```
    pub fn script(&self) -> Option<&'static Script> {
        self.script
    }

    /// The script's name for a script call, the command's name (`SET`,
    /// `SCRIPT FLUSH`) for a plain command.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// println!("first entry: {}", e.entries()[0].name());
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        match (&self.script, &self.command) {
            (Some(s), _) => s.name(),
            (None, Some(c)) => c,
            (None, None) => "",
        }
    }

    /// Whether the entry ran.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// assert_eq!(e.entries()[0].status(), redlua::EntryStatus::Ran);
    /// # }
    /// ```
    pub fn status(&self) -> EntryStatus {
        match self.outcome {
            Outcome::Ran => EntryStatus::Ran,
            Outcome::MayHaveRun => EntryStatus::Unknown,
            Outcome::NotSent | Outcome::Refused => EntryStatus::NotRun,
        }
    }

    /// The entry's [`Outcome`], in the terms of a single call's
    /// [`Error::outcome`](crate::Error::outcome): [`EntryStatus::Ran`] is
    /// [`Outcome::Ran`], [`EntryStatus::Unknown`] is
    /// [`Outcome::MayHaveRun`], and [`EntryStatus::NotRun`] is
    /// [`Outcome::NotSent`] when the batch never reached the server
    /// ([`BatchFailure::NotSent`], or a refused connection) and
    /// [`Outcome::Refused`] when the server answered without running it
    /// (`NOSCRIPT`, a discarded or aborted transaction).
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// let resend: Vec<usize> = e.entries().iter()
    ///     .filter(|r| matches!(r.outcome(), redlua::Outcome::NotSent | redlua::Outcome::Refused))
    ///     .map(|r| r.index())
    ///     .collect();
    /// # }
    /// ```
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Why the entry did not run, when that is known (the `NOSCRIPT`, the
    /// failed `SCRIPT LOAD`, the error Redis gave when it was queued).
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// if let Some(why) = e.entries()[0].reason() {
    ///     eprintln!("{why}");
    /// }
    /// # }
    /// ```
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

/// A pipeline or transaction that did not run as a whole
/// ([`Error::Batch`](crate::Error::Batch)): which entries ran, which did not, and why.
///
/// Nothing is ever retried. The entries reported [`EntryStatus::NotRun`]
/// changed nothing and may be sent again; those reported
/// [`EntryStatus::Ran`] must not be sent again blindly.
///
/// ```no_run
/// use redlua::{redis_script, BatchFailure, Error};
///
/// #[redis_script("multiply.lua")]
/// fn multiply(key: &str, multiplier: i64) -> i64;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
/// let mut p = redlua::pipe();
/// p.assume_loaded();
/// let a = p.add(multiply("a", 2));
/// match p.query(&mut con) {
///     Err(Error::Batch(e)) if e.kind() == BatchFailure::NoScript => {
///         eprintln!("{e}"); // lists ran / not run entries
///         redlua::load_all(&mut con)?;
///         // Send again only what did not run.
///         assert_eq!(e.not_run(), vec![a.index()]);
///     }
///     other => { other?; }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct BatchError {
    pub(super) kind: BatchFailure,
    pub(super) atomic: bool,
    pub(super) entries: Vec<EntryReport>,
    pub(super) load_failures: Vec<(&'static Script, String)>,
    pub(super) results: Option<Results>,
    pub(super) source: Option<RedisError>,
    pub(super) detail: Option<String>,
    /// For a batch split by slot on Redis Cluster: into how many parts.
    pub(super) parts: usize,
}

impl BatchError {
    /// What went wrong.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// if e.kind() == redlua::BatchFailure::Connection { /* reconnect */ }
    /// # }
    /// ```
    pub fn kind(&self) -> BatchFailure {
        self.kind
    }

    /// True when the batch was a `MULTI`/`EXEC` transaction.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// let what = if e.is_atomic() { "transaction" } else { "pipeline" };
    /// # }
    /// ```
    pub fn is_atomic(&self) -> bool {
        self.atomic
    }

    /// Every queued entry, in order, with its [`EntryStatus`].
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// for r in e.entries() {
    ///     println!("#{} {}: {:?}", r.index(), r.name(), r.status());
    /// }
    /// # }
    /// ```
    pub fn entries(&self) -> &[EntryReport] {
        &self.entries
    }

    /// Indices of the entries that ran.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// println!("ran: {:?}", e.ran());
    /// # }
    /// ```
    pub fn ran(&self) -> Vec<usize> {
        self.with_status(EntryStatus::Ran)
    }

    /// Indices of the entries that did not run (safe to send again).
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// println!("not run: {:?}", e.not_run());
    /// # }
    /// ```
    pub fn not_run(&self) -> Vec<usize> {
        self.with_status(EntryStatus::NotRun)
    }

    /// Indices of the entries that may or may not have run.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// assert!(e.unknown().is_empty() || e.kind() == redlua::BatchFailure::Connection
    ///     || e.kind() == redlua::BatchFailure::Protocol);
    /// # }
    /// ```
    pub fn unknown(&self) -> Vec<usize> {
        self.with_status(EntryStatus::Unknown)
    }

    /// The replies, when the batch was executed ([`BatchFailure::NoScript`]):
    /// read the entries that ran with their handles as usual; the entries
    /// that did not run give their `NOSCRIPT` (or failed `SCRIPT LOAD`)
    /// error.
    ///
    /// ```no_run
    /// # use redlua::redis_script;
    /// # #[redis_script("multiply.lua")]
    /// # fn multiply(key: &str, multiplier: i64) -> i64;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut con = redis::Client::open("redis://127.0.0.1/")?.get_connection()?;
    /// let mut p = redlua::pipe();
    /// let hits = p.cmd(redis::cmd("INCR").arg("hits")).returning::<i64>();
    /// let a = p.add(multiply("a", 2));
    /// if let Err(redlua::Error::Batch(e)) = p.query(&mut con) {
    ///     if let Some(results) = e.results() {
    ///         println!("hits = {:?}, a = {:?}", results.get(hits), results.get(a));
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn results(&self) -> Option<&Results> {
        self.results.as_ref()
    }

    /// Like [`BatchError::results`], by value.
    ///
    /// ```no_run
    /// # fn f(e: redlua::BatchError) {
    /// let results: Option<redlua::Results> = e.into_results();
    /// # }
    /// ```
    pub fn into_results(self) -> Option<Results> {
        self.results
    }

    /// The batch's `SCRIPT LOAD`s that failed, with the error: the script
    /// does not compile, the user may not run `SCRIPT LOAD` (`NOPERM`), ...
    /// A failed load makes the entries of that script not run unless the
    /// script was already resident.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// for (script, why) in e.load_failures() {
    ///     eprintln!("SCRIPT LOAD of {}: {why}", script.name());
    /// }
    /// # }
    /// ```
    pub fn load_failures(&self) -> impl Iterator<Item = (&'static Script, &str)> + '_ {
        self.load_failures.iter().map(|(s, e)| (*s, e.as_str()))
    }

    /// The client error behind a [`BatchFailure::Connection`] failure, or
    /// the `EXECABORT` of a [`BatchFailure::Discarded`] one.
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// if let Some(io) = e.redis_error() { eprintln!("{io}"); }
    /// # }
    /// ```
    pub fn redis_error(&self) -> Option<&RedisError> {
        self.source.as_ref()
    }

    /// The name of the first script entry that did not run (else of the
    /// first script entry, else empty): what [`Error::script_name`] says.
    pub(crate) fn script_name(&self) -> &str {
        let first_not_run = self
            .entries
            .iter()
            .filter(|e| e.status() != EntryStatus::Ran)
            .find_map(|e| e.script);
        first_not_run
            .or_else(|| self.entries.iter().find_map(|e| e.script))
            .map_or("", |s| s.name())
    }

    /// The batch's [`Outcome`] as a whole ([`Error::outcome`](crate::Error::outcome)):
    /// [`Outcome::MayHaveRun`] if any entry may have run, else
    /// [`Outcome::Ran`] if any entry ran (see [`BatchError::entries`] for
    /// which), else the outcome the entries share ([`Outcome::NotSent`] or
    /// [`Outcome::Refused`]).
    ///
    /// ```no_run
    /// # fn f(e: &redlua::BatchError) {
    /// if e.outcome() == redlua::Outcome::MayHaveRun { /* check before resending */ }
    /// # }
    /// ```
    pub fn outcome(&self) -> Outcome {
        let has = |o| self.entries.iter().any(|e| e.outcome == o);
        if has(Outcome::MayHaveRun) {
            Outcome::MayHaveRun
        } else if has(Outcome::Ran) {
            Outcome::Ran
        } else if has(Outcome::Refused) {
            Outcome::Refused
        } else {
            Outcome::NotSent
        }
    }

    /// What [`Error::code`] says.
    pub(crate) fn code(&self) -> Option<&str> {
        match self.kind {
            BatchFailure::NoScript => Some("NOSCRIPT"),
            BatchFailure::Discarded => Some("EXECABORT"),
            _ => self.source.as_ref().and_then(|e| e.code()),
        }
    }

    /// For `From<Error> for RedisError`: never a kind that a caller would
    /// retry the whole batch on (no `ErrorKind::Server(NoScript)`), except
    /// that a connection failure stays the client's own error.
    pub(crate) fn into_redis_error(self, text: String) -> RedisError {
        match (self.kind, self.source) {
            (BatchFailure::Connection, Some(source)) => source,
            (BatchFailure::NoScript, _) => {
                redis::make_extension_error("NOSCRIPT".into(), Some(text))
            }
            (BatchFailure::Discarded, _) => {
                redis::make_extension_error("EXECABORT".into(), Some(text))
            }
            (BatchFailure::WatchAborted, _) => {
                RedisError::from((ErrorKind::Client, "transaction aborted", text))
            }
            (BatchFailure::NotSent, _) => {
                RedisError::from((ErrorKind::Client, "batch not sent", text))
            }
            _ => RedisError::from((ErrorKind::UnexpectedReturnType, "batch failed", text)),
        }
    }

    fn with_status(&self, status: EntryStatus) -> Vec<usize> {
        self.entries
            .iter()
            .filter(|e| e.status() == status)
            .map(|e| e.index)
            .collect()
    }

    fn what(&self) -> &'static str {
        if self.atomic {
            "transaction"
        } else {
            "pipeline"
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.what();
        let n = self.entries.len();
        let none_ran = none_ran(n);
        if self.parts > 1 {
            return self.fmt_split(f);
        }
        match self.kind {
            BatchFailure::NoScript => {
                let not_run = self.not_run().len();
                if not_run < n {
                    write!(
                        f,
                        "{what} partially executed: {not_run} of {n} entries did not run \
                         (NOSCRIPT), the others ran; nothing was retried",
                    )?;
                } else {
                    write!(
                        f,
                        "{what} not executed: {none_ran} (NOSCRIPT); nothing was retried"
                    )?;
                }
                write!(f, "\n  ran:     ")?;
                write_ranges(f, &self.ran())?;
                write!(f, "\n  not run:")?;
                self.write_entries(f, |e| e.status() == EntryStatus::NotRun)?;
            }
            BatchFailure::Discarded => {
                write!(f, "{what} discarded (EXECABORT): {none_ran}")?;
                let refused = self.entries.iter().filter(|e| e.reason.is_some()).count()
                    + self.load_failures.len();
                if refused > 0 {
                    write!(
                        f,
                        "; Redis refused {refused} {} when queued:",
                        plural(refused, "command", "commands")
                    )?;
                    self.write_entries(f, |e| e.reason.is_some())?;
                } else if let Some(e) = &self.source {
                    write!(f, ": {e}")?;
                }
            }
            BatchFailure::WatchAborted => write!(
                f,
                "{what} aborted: a WATCHed key changed (EXEC answered null), {none_ran}"
            )?,
            BatchFailure::Connection => {
                write!(
                    f,
                    "{what} of {n} {} failed; whether any entry ran is unknown",
                    plural(n, "entry", "entries")
                )?;
                if let Some(e) = &self.source {
                    write!(f, ": {e}")?;
                }
            }
            BatchFailure::Protocol => {
                write!(
                    f,
                    "{what} of {n} {}: unexpected replies; whether any entry ran is unknown",
                    plural(n, "entry", "entries")
                )?;
                if let Some(d) = &self.detail {
                    write!(f, ": {d}")?;
                }
            }
            BatchFailure::Cluster => {
                write!(f, "{what} not run: {none_ran}")?;
                if let Some(d) = &self.detail {
                    write!(f, "; {d}")?;
                }
            }
            BatchFailure::NotSent => {
                write!(f, "{what} not sent: {none_ran}")?;
                if let Some(d) = &self.detail {
                    write!(f, "; {d}")?;
                }
            }
        }
        // With NOSCRIPT, the entries' reasons already quote their load's error.
        if self.kind != BatchFailure::NoScript {
            for (script, why) in &self.load_failures {
                write!(
                    f,
                    "\n    {} of `{}`: {why}",
                    script.load_command(),
                    script.name()
                )?;
            }
        }
        if self
            .load_failures
            .iter()
            .any(|(_, why)| why.starts_with("NOPERM"))
        {
            f.write_str(
                "\n  hint: this user may not run SCRIPT LOAD; preload the scripts with \
                 redlua::load and build the pipeline with assume_loaded()",
            )?;
        }
        Ok(())
    }
}

impl BatchError {
    /// The text of a cluster batch split into parts, some of which ran.
    fn fmt_split(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ran, not_run, unknown) = (self.ran(), self.not_run(), self.unknown());
        write!(
            f,
            "cluster {} of {} entries, split into {} parts by slot: {} ran, {} did not run, \
             {} may have run; nothing that may have run was sent again",
            self.what(),
            self.entries.len(),
            self.parts,
            ran.len(),
            not_run.len(),
            unknown.len()
        )?;
        write!(f, "\n  ran:     ")?;
        write_ranges(f, &ran)?;
        if !not_run.is_empty() {
            write!(f, "\n  not run:")?;
            self.write_entries(f, |e| e.status() == EntryStatus::NotRun)?;
        }
        if !unknown.is_empty() {
            write!(f, "\n  unknown:")?;
            self.write_entries(f, |e| e.status() == EntryStatus::Unknown)?;
        }
        if let Some(e) = &self.source {
            write!(f, "\n  first error: {e}")?;
        }
        Ok(())
    }

    fn write_entries(
        &self,
        f: &mut fmt::Formatter<'_>,
        pick: impl Fn(&EntryReport) -> bool,
    ) -> fmt::Result {
        let picked: Vec<&EntryReport> = self.entries.iter().filter(|e| pick(e)).collect();
        for e in picked.iter().take(LISTED) {
            write!(f, "\n    #{} ", e.index)?;
            match e.script {
                Some(s) => write!(f, "script `{}`", s.name())?,
                None => f.write_str(e.name())?,
            }
            if let Some(why) = &e.reason {
                write!(f, ": {why}")?;
            }
        }
        if picked.len() > LISTED {
            write!(f, "\n    ... and {} more", picked.len() - LISTED)?;
        }
        Ok(())
    }
}

impl std::error::Error for BatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `none of its 3 entries ran`, `its only entry did not run`.
fn none_ran(n: usize) -> String {
    if n == 1 {
        "its only entry did not run".to_owned()
    } else {
        format!("none of its {n} entries ran")
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `#0-#2, #5`, at most `LISTED` ranges.
fn write_ranges(f: &mut fmt::Formatter<'_>, indices: &[usize]) -> fmt::Result {
    if indices.is_empty() {
        return f.write_str("(none)");
    }
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &i in indices {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => ranges.push((i, i)),
        }
    }
    for (k, (start, end)) in ranges.iter().take(LISTED).enumerate() {
        if k > 0 {
            f.write_str(", ")?;
        }
        if start == end {
            write!(f, "#{start}")?;
        } else {
            write!(f, "#{start}-#{end}")?;
        }
    }
    if ranges.len() > LISTED {
        write!(f, ", ... ({} entries in all)", indices.len())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::pipe;
    use crate::batch::tests_support::{batch, count, server_error, Canned};

    struct Ranges<'a>(&'a [usize]);

    impl fmt::Display for Ranges<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_ranges(f, self.0)
        }
    }

    #[test]
    fn index_ranges() {
        assert_eq!(Ranges(&[]).to_string(), "(none)");
        assert_eq!(Ranges(&[0, 1, 2, 4, 6, 7]).to_string(), "#0-#2, #4, #6-#7");
        let every_other: Vec<usize> = (0..40).step_by(2).collect();
        assert_eq!(
            Ranges(&every_other).to_string(),
            "#0, #2, #4, #6, #8, #10, #12, #14, #16, #18, ... (20 entries in all)"
        );
    }

    #[test]
    fn many_not_run_entries_are_summarised() {
        let mut p = pipe();
        p.assume_loaded();
        let mut replies = Vec::new();
        for i in 0..12 {
            p.add(count(&i.to_string()));
            replies.push(server_error(
                b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
            ));
        }
        let e = batch(p.query(&mut Canned(replies)));
        let text = e.to_string();
        assert!(
            text.starts_with(
                "pipeline not executed: none of its 12 entries ran (NOSCRIPT); nothing was retried"
            ),
            "{text}"
        );
        assert!(text.contains("ran:     (none)"), "{text}");
        assert!(text.contains("#9 script `count`"), "{text}");
        assert!(!text.contains("#10 script"), "{text}");
        assert!(text.ends_with("... and 2 more"), "{text}");
        assert_eq!(e.script_name(), "count");
    }
}
