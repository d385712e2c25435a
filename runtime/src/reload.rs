//! Single-flight reload: after a cache miss (`SCRIPT FLUSH`, a restart, a
//! failover), the async callers of one script share one `SCRIPT LOAD`.
//!
//! Without it, every caller that got `NOSCRIPT` sends its own
//! `SCRIPT LOAD` + `EVALSHA`: 1,000 concurrent callers on one multiplexed
//! connection sent 761-983 loads of the same text. Here the first caller to
//! see the miss *leads*: it sends `SCRIPT LOAD` + `EVALSHA` in one round
//! trip as before. A caller that sees the miss while that load is in flight
//! *waits* for the leader's reply, then sends its `EVALSHA` alone. A caller
//! whose `NOSCRIPT` raced a load that completed after it sent (its
//! `EVALSHA` was processed just before the `SCRIPT LOAD`) sends its
//! `EVALSHA` again at once.
//!
//! Nobody waits on another's failure, and nobody waits twice: when the
//! leader's load fails (refused, the connection dropped or timed out, the
//! leader's future dropped), its waiters each send their own
//! `SCRIPT LOAD` + `EVALSHA`; a waiter or retrier that gets `NOSCRIPT`
//! again (its connection goes to another server than the leader's) does the
//! same. A wait lasts at most the leader's one round trip, which redis-rs
//! bounds by the connection's response timeout (500 ms by default for
//! async connections).
//!
//! The state is per [`Script`](crate::Script) (a `static`), so it needs
//! neither a connection identity nor an executor: a `std` mutex guards the
//! flight slot for a few instructions, and waiters sleep on an
//! [`event_listener::Event`] (already in redis-rs's dependency tree through
//! `async-lock`; it works under any executor). The hit path only reads one
//! atomic counter, and allocates nothing.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use event_listener::Event;

/// The reload state of one script.
pub(crate) struct Reload {
    /// Bumped after every load a leader saw succeed. A caller reads it
    /// before sending: if it moved by the time its `NOSCRIPT` came back,
    /// the script was loaded meanwhile.
    loads: AtomicU64,
    /// The load in flight, if any.
    flight: Mutex<Option<Arc<Flight>>>,
}

const PENDING: u8 = 0;
const LOADED: u8 = 1;
const FAILED: u8 = 2;

/// One leader's `SCRIPT LOAD`, for its waiters.
struct Flight {
    state: AtomicU8,
    done: Event,
}

/// What a caller that got `NOSCRIPT` does next.
pub(crate) enum Miss<'a> {
    /// A load completed after this caller sent: send the call again.
    Retry,
    /// Another caller's load is in flight: wait for it, then send the call.
    Wait(Waiter),
    /// This caller loads; the others wait for it.
    Lead(Leader<'a>),
}

impl Reload {
    pub(crate) const fn new() -> Reload {
        Reload {
            loads: AtomicU64::new(0),
            flight: Mutex::new(None),
        }
    }

    /// Read before sending a call; passed to [`Reload::miss`] if the call
    /// came back `NOSCRIPT`.
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.loads.load(Ordering::Acquire)
    }

    /// Decides what a caller whose call (sent at `generation`) came back
    /// `NOSCRIPT` does.
    pub(crate) fn miss(&self, generation: u64) -> Miss<'_> {
        let mut slot = self.flight.lock().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock: a leader bumps `loads` before it empties
        // the slot, so a caller never misses both.
        if self.loads.load(Ordering::Acquire) != generation {
            return Miss::Retry;
        }
        if let Some(flight) = slot.as_ref() {
            return Miss::Wait(Waiter(flight.clone()));
        }
        let flight = Arc::new(Flight {
            state: AtomicU8::new(PENDING),
            done: Event::new(),
        });
        *slot = Some(flight.clone());
        Miss::Lead(Leader {
            reload: self,
            flight,
        })
    }
}

/// The leading caller's hold on the flight. Dropping it without
/// [`Leader::loaded`] (the load failed, or the leader's future was
/// dropped mid-flight) releases the waiters to load for themselves.
pub(crate) struct Leader<'a> {
    reload: &'a Reload,
    flight: Arc<Flight>,
}

impl Leader<'_> {
    /// The server answered the `SCRIPT LOAD` with its SHA1: waiters may
    /// send their calls.
    pub(crate) fn loaded(self) {
        self.reload.loads.fetch_add(1, Ordering::AcqRel);
        self.flight.state.store(LOADED, Ordering::Release);
        // Drop empties the slot and wakes the waiters.
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        // No-op when `loaded` already stored LOADED.
        let _ = self.flight.state.compare_exchange(
            PENDING,
            FAILED,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        {
            let mut slot = self
                .reload
                .flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if slot.as_ref().is_some_and(|f| Arc::ptr_eq(f, &self.flight)) {
                *slot = None;
            }
        }
        self.flight.done.notify(usize::MAX);
    }
}

/// A caller waiting for a leader's load.
pub(crate) struct Waiter(Arc<Flight>);

impl Waiter {
    /// Waits until the leader's load is answered (or abandoned): true when
    /// it succeeded.
    pub(crate) async fn loaded(self) -> bool {
        loop {
            let state = self.0.state.load(Ordering::Acquire);
            if state != PENDING {
                return state == LOADED;
            }
            // Listen, then look again: a notification between the two
            // looks is not lost.
            let listener = self.0.done.listen();
            let state = self.0.state.load(Ordering::Acquire);
            if state != PENDING {
                return state == LOADED;
            }
            listener.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        // A waiter is woken by the leader, on whatever thread: any
        // executor works, here a plain parked thread.
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Arc::new(Unpark(std::thread::current())).into();
        let mut cx = std::task::Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    /// A miss that leads and one that waits for it.
    fn lead_and_wait(reload: &Reload) -> (u64, Leader<'_>, Waiter) {
        let g = reload.generation();
        let Miss::Lead(leader) = reload.miss(g) else {
            panic!("the first miss leads")
        };
        let Miss::Wait(waiter) = reload.miss(g) else {
            panic!("a miss during the load waits")
        };
        (g, leader, waiter)
    }

    #[test]
    fn the_first_miss_leads_later_ones_wait_and_a_finished_load_means_retry() {
        let reload = Reload::new();
        let (g, leader, waiter) = lead_and_wait(&reload);
        let released = std::thread::scope(|s| {
            let t = s.spawn(|| block_on(waiter.loaded()));
            std::thread::sleep(std::time::Duration::from_millis(20));
            leader.loaded();
            t.join().unwrap()
        });
        assert!(released);
        // A NOSCRIPT for a call sent before that load: send it again.
        assert!(matches!(reload.miss(g), Miss::Retry));
        // A NOSCRIPT for a call sent after it: a new miss, a new leader.
        assert!(matches!(reload.miss(reload.generation()), Miss::Lead(_)));
    }

    #[test]
    fn a_dropped_leader_releases_its_waiters_to_load_themselves() {
        let reload = Reload::new();
        let (g, leader, waiter) = lead_and_wait(&reload);
        drop(leader);
        assert!(!block_on(waiter.loaded()));
        // The slot is free again and nothing counts as loaded.
        assert_eq!(reload.generation(), g);
        assert!(matches!(reload.miss(g), Miss::Lead(_)));
    }
}
