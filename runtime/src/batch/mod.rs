//! Pipelines and `MULTI`/`EXEC` transactions of script calls and plain
//! commands. The user-facing explanation is on [`Pipeline`].

mod pipeline;

pub use pipeline::*;
