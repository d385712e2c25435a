//! The `tracing` feature: one span per call and per batch, named after the
//! script, with OpenTelemetry's database fields, the outcome, and an event
//! per NOSCRIPT reload. Captured with a subscriber layer, on a real server.
#![cfg(all(feature = "tracing", feature = "testing"))]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use redlua::redis_script;
use redlua::testing::RedisServer;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

#[redis_script("multiply.lua")]
fn multiply(key: &str, multiplier: i64) -> i64;

#[derive(Debug, Default, Clone)]
struct Captured {
    name: String,
    fields: BTreeMap<String, String>,
    events: Vec<String>,
}

#[derive(Default, Clone)]
struct Spans(Arc<Mutex<Vec<Captured>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S> Layer<S> for Spans
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut c = Captured {
            name: attrs.metadata().name().to_owned(),
            ..Default::default()
        };
        attrs.record(&mut Fields(&mut c.fields));
        c.fields.insert("id".into(), id.into_u64().to_string());
        self.0.lock().unwrap().push(c);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        let id = id.into_u64().to_string();
        if let Some(c) = spans.iter_mut().rev().find(|c| c.fields["id"] == id) {
            values.record(&mut Fields(&mut c.fields));
        }
    }
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let Some(parent) = ctx.event_span(event) else {
            return;
        };
        let id = parent.id().into_u64().to_string();
        let mut spans = self.0.lock().unwrap();
        if let Some(c) = spans.iter_mut().rev().find(|c| c.fields["id"] == id) {
            c.events
                .push(fields.get("message").cloned().unwrap_or_default());
        }
    }
}

#[test]
fn calls_and_batches_have_spans_with_the_script_the_outcome_and_reloads() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.connection();
    redis::cmd("SET").arg("n").arg(2).exec(&mut con).unwrap();

    tracing::subscriber::with_default(subscriber, || {
        assert_eq!(multiply("n", 3).invoke(&mut con).unwrap(), 6); // miss: reload
        assert_eq!(multiply("n", 4).invoke(&mut con).unwrap(), 8); // hit
        redis::cmd("SET").arg("s").arg("x").exec(&mut con).unwrap();
        assert!(multiply("s", 4).invoke(&mut con).is_err()); // a runtime error
        let mut p = redlua::pipe();
        p.add(multiply("n", 5));
        p.query(&mut con).unwrap();
    });

    let spans = spans.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let (miss, hit, failed, batch) = (&spans[0], &spans[1], &spans[2], &spans[3]);
    for call in [miss, hit, failed] {
        assert_eq!(call.name, "redlua.call");
        assert_eq!(call.fields["otel.name"], "EVALSHA multiply");
        assert_eq!(call.fields["db.system.name"], "redis");
        assert_eq!(call.fields["db.operation.name"], "EVALSHA");
        assert_eq!(call.fields["db.query.summary"], "EVALSHA multiply");
        assert_eq!(call.fields["redlua.script.path"], "lua/multiply.lua");
        assert_eq!(call.fields["redlua.script.sha1"], MULTIPLY.sha1());
    }
    assert_eq!(miss.fields["redlua.reloads"], "1");
    assert_eq!(miss.fields["redlua.outcome"], "ok");
    assert_eq!(miss.events.len(), 1, "one event for the reload: {miss:?}");
    assert!(
        miss.events[0].contains("does not have the script"),
        "{miss:?}"
    );
    assert_eq!(hit.fields["redlua.reloads"], "0");
    assert!(hit.events.is_empty(), "{hit:?}");
    assert_eq!(failed.fields["redlua.outcome"], "Ran");
    assert_eq!(batch.name, "redlua.batch");
    assert_eq!(batch.fields["otel.name"], "PIPELINE multiply");
    assert_eq!(batch.fields["db.operation.batch.size"], "1");
    assert_eq!(batch.fields["redlua.loads"], "1");
    assert_eq!(batch.fields["redlua.outcome"], "ok");
}

#[tokio::test]
async fn async_calls_have_their_span_across_awaits() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = RedisServer::start().expect("start redis-server");
    let mut con = server.multiplexed().await;
    redis::cmd("SET")
        .arg("n")
        .arg(2)
        .exec_async(&mut con)
        .await
        .unwrap();
    assert_eq!(multiply("n", 3).invoke_async(&mut con).await.unwrap(), 6);
    let spans = spans.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].fields["otel.name"], "EVALSHA multiply");
    assert_eq!(spans[0].fields["redlua.reloads"], "1");
    assert_eq!(spans[0].fields["redlua.outcome"], "ok");
    assert_eq!(spans[0].events.len(), 1);
}
