//! Pipelines and `MULTI`/`EXEC` transactions of script calls and plain
//! commands that stay correct when the server has lost its script cache.
//! The user-facing explanation is on [`Pipeline`].
//!
//! One file per job, importing one way (each only from those listed after
//! it, and from `crate::call`, `crate::load`, `crate::error` below them):
//!
//! - `cluster`: on Redis Cluster, splits a batch into one transaction per
//!   slot group, sends the parts concurrently and merges their outcomes
//!   (over `send` and `settle`);
//! - `send`: packs the batch for the wire and sends it (`query`,
//!   `query_async`);
//! - `settle`: sorts the replies into [`Results`] or a [`BatchError`];
//! - `pipeline`: the builder, [`pipe`] and [`Pipeline`];
//! - `handle`: [`Handle`] and [`CmdHandle`], which decode one entry;
//! - `report`: [`BatchError`] and its parts, with their text (used by
//!   `crate::error`, so it imports no code that sends);
//! - `results`: [`Results`], [`Entry`], the replies as data.

#[cfg(feature = "aio")]
mod cluster;
mod handle;
mod pipeline;
pub(crate) mod report;
mod results;
mod send;
mod settle;
#[cfg(test)]
pub(crate) mod tests_support;

pub use handle::{CmdHandle, Handle};
pub use pipeline::{pipe, Pipeline};
pub use report::{BatchError, BatchFailure, EntryReport, EntryStatus};
pub use results::{Entry, Results};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_results_and_errors_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Pipeline>();
        check::<Results>();
        check::<Handle<String>>();
        check::<CmdHandle<Vec<u8>>>();
        check::<BatchError>();
    }
}
