//! Spans and events of the `tracing` feature. Without the feature `Span` is
//! an empty struct and every function here is an empty `#[inline]` one, so a
//! call compiles to what it was (the benchmark runs without the feature).
//!
//! Field names follow the OpenTelemetry database conventions where one fits
//! (`db.system.name`, `db.operation.name`, `db.query.summary`); `otel.name`
//! names the span after the script for exporters that honour it, since a
//! `tracing` span's own name must be a constant.

use crate::error::Error;
use crate::Script;

#[cfg(feature = "tracing")]
pub(crate) use tracing::Span;

/// Stands in for `tracing::Span` when the feature is off.
#[cfg(not(feature = "tracing"))]
#[derive(Clone)]
pub(crate) struct Span;

/// The span of one call: `EVALSHA create_status`.
#[inline]
pub(crate) fn call(script: &Script) -> Span {
    #[cfg(feature = "tracing")]
    {
        let command = script.call_command();
        tracing::info_span!(
            target: "redlua",
            "redlua.call",
            otel.name = %format_args!("{command} {}", script.name()),
            db.system.name = "redis",
            db.operation.name = command,
            db.query.summary = %format_args!("{command} {}", script.name()),
            redlua.script = script.name(),
            redlua.script.path = script.path(),
            redlua.script.sha1 = script.sha1(),
            redlua.reloads = 0u64,
            redlua.outcome = tracing::field::Empty,
        )
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = script;
        Span
    }
}

/// The span of one batch (`redlua::pipe()`): its size, its scripts and the
/// `SCRIPT LOAD`s it carries.
#[inline]
pub(crate) fn batch(
    entries: usize,
    scripts: &[&'static Script],
    loads: usize,
    atomic: bool,
) -> Span {
    #[cfg(feature = "tracing")]
    {
        // `scripts` is the batch's distinct scripts, in order of first use.
        let names = || {
            scripts
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let operation = if atomic { "MULTI" } else { "PIPELINE" };
        tracing::info_span!(
            target: "redlua",
            "redlua.batch",
            otel.name = %format_args!("{operation} {}", names()),
            db.system.name = "redis",
            db.operation.name = operation,
            db.operation.batch.size = entries as u64,
            db.query.summary = %format_args!("{operation} {}", names()),
            redlua.loads = loads as u64,
            redlua.outcome = tracing::field::Empty,
        )
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (entries, scripts, loads, atomic);
        Span
    }
}

/// A cache miss (`NOSCRIPT`, or `Function not found` for a function): the
/// script is loaded and the call sent again. Counted on the call's span.
#[inline]
pub(crate) fn reload(script: &Script) {
    #[cfg(feature = "tracing")]
    {
        tracing::Span::current().record("redlua.reloads", 1u64);
        tracing::info!(
            target: "redlua",
            script = script.name(),
            sha1 = script.sha1(),
            load = script.load_command(),
            "the server does not have the script: loading it and sending the call again"
        );
    }
    #[cfg(not(feature = "tracing"))]
    let _ = script;
}

/// How the call or batch ended: `ok`, or the error's [`Error::outcome`].
#[cfg(feature = "tracing")]
fn finish<T>(span: &Span, result: &Result<T, Error>) {
    match result {
        Ok(_) => {
            span.record("redlua.outcome", "ok");
        }
        Err(e) => {
            span.record("redlua.outcome", tracing::field::debug(e.outcome()));
            tracing::warn!(target: "redlua", parent: span, error = %e, "the call failed");
        }
    }
}

/// Runs a sync call or batch inside `span` (made only with the feature).
#[inline(always)]
pub(crate) fn sync<T>(
    span: impl FnOnce() -> Span,
    run: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    #[cfg(feature = "tracing")]
    {
        let span = span();
        let result = span.in_scope(run);
        finish(&span, &result);
        result
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = span;
        run()
    }
}

/// Runs an async call or batch inside `span`, on every poll. (Without the
/// feature the callers await their future directly: no wrapper at all.)
#[cfg(all(feature = "aio", feature = "tracing"))]
pub(crate) async fn future<T>(
    span: impl FnOnce() -> Span,
    run: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    use tracing::Instrument;
    let span = span();
    let result = run.instrument(span.clone()).await;
    finish(&span, &result);
    result
}
