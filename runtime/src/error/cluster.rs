//! [`ClusterError`]: a call redlua refused to send on a Redis Cluster
//! connection, because the cluster could not run it as written.

use std::fmt;

use crate::script::Script;

/// Why a call was refused on a cluster connection ([`ClusterError::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClusterRefusal {
    /// The call's keys hash to more than one slot: one node cannot serve
    /// them all (the server would answer `CROSSSLOT`).
    CrossSlot,
    /// The script writes but declares no `%key`: the cluster client would
    /// send it to a random node, which refuses writes to keys it does not
    /// own (`non local key`).
    KeylessWrite,
}

/// A call refused on a Redis Cluster connection before anything was sent
/// ([`Error::Cluster`](crate::Error::Cluster)): the script did not run, and
/// sending it again unchanged fails the same way.
#[derive(Clone)]
pub struct ClusterError {
    pub(crate) script: &'static Script,
    pub(crate) kind: ClusterRefusal,
    /// Each declared key (as sent) and its hash slot.
    pub(crate) keys: Vec<(Vec<u8>, u16)>,
}

impl ClusterError {
    /// The script's name ([`Script::name`]).
    pub fn script_name(&self) -> &'static str {
        self.script.name()
    }

    /// Why the call was refused.
    pub fn kind(&self) -> ClusterRefusal {
        self.kind
    }

    /// For [`ClusterRefusal::CrossSlot`]: every declared key, in call
    /// order, with its hash slot (0..16384). Empty otherwise.
    pub fn keys(&self) -> &[(Vec<u8>, u16)] {
        &self.keys
    }
}

impl std::error::Error for ClusterError {}

/// Keys longer than this are shown cut, with their length.
const SHOWN_KEY: usize = 60;

fn shown(key: &[u8]) -> String {
    let text = String::from_utf8_lossy(key);
    if text.chars().count() <= SHOWN_KEY {
        return format!("`{text}`");
    }
    let cut: String = text.chars().take(SHOWN_KEY).collect();
    format!("`{cut}...` ({} bytes)", key.len())
}

/// What a common hash tag would look like for `key`: its own tag if it has
/// one (the server hashes only the text between the first `{` and the next
/// `}`), else the key in braces.
fn tag_of(key: &[u8]) -> String {
    let text = String::from_utf8_lossy(key);
    if let Some(open) = text.find('{') {
        if let Some(len) = text[open + 1..].find('}') {
            if len > 0 {
                return text[open..open + len + 2].to_string();
            }
        }
    }
    let short: String = text.chars().take(SHOWN_KEY).collect();
    format!("{{{short}}}")
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let script = self.script.name();
        let path = self.script.path();
        match self.kind {
            ClusterRefusal::CrossSlot => {
                let slots = {
                    let mut s: Vec<u16> = self.keys.iter().map(|k| k.1).collect();
                    s.sort_unstable();
                    s.dedup();
                    s.len()
                };
                write!(
                    f,
                    "script `{script}` ({path}): its {} keys hash to {slots} different slots \
                     of the cluster, which no single node serves:",
                    self.keys.len()
                )?;
                for (key, slot) in &self.keys {
                    write!(f, "\n  {} -> slot {slot}", shown(key))?;
                }
                let tag = self.keys.first().map_or_else(String::new, |k| tag_of(&k.0));
                write!(
                    f,
                    "\n  help: give every key the same {{hash tag}}, e.g. `{tag}` in each key \
                     name: only the text between the first `{{` and `}}` is hashed\
                     \n  not sent: the script did not run"
                )
            }
            ClusterRefusal::KeylessWrite => write!(
                f,
                "script `{script}` ({path}) writes but declares no `%key`: on a cluster it \
                 would run on a random node, which refuses writes to the keys it does not own\
                 \n  help: declare the keys it writes with `%key` (they then route the call), \
                 or add `#!lua flags=no-cluster` if it must not run on a cluster\
                 \n  not sent: the script did not run"
            ),
        }
    }
}

impl fmt::Debug for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterError")
            .field("script", &self.script.name())
            .field("kind", &self.kind)
            .field(
                "keys",
                &self
                    .keys
                    .iter()
                    .map(|(k, s)| (String::from_utf8_lossy(k), *s))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
