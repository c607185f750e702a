//! Background thread that reads statistics from inside every running guest into the cache,
//! so a scrape never waits for a guest.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::collect::{lock, GuestEntry, State};
use crate::guest_stats::parse_guest_report;

/// Reads every up guest once (in parallel, each bounded by `timeout`) and updates the cache.
pub(crate) fn refresh_once(state: &State, timeout: Duration) {
    let guests: Vec<_> = state.source.guests();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = guests
            .iter()
            .filter(|g| g.up)
            .map(|g| {
                let source = &state.source;
                let handle = scope.spawn(move || source.guest_stats(&g.node, timeout));
                (g, handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(g, h)| {
                let result = h
                    .join()
                    .unwrap_or_else(|_| Err("the guest read panicked".into()));
                (g, result, Instant::now())
            })
            .collect()
    });
    let mut cache = lock(&state.cache);
    cache.retain(|node, _| guests.iter().any(|g| &g.node == node));
    for (g, result, now) in results {
        let parsed = match result {
            Ok(report) => match parse_guest_report(&report) {
                Ok(stats) => Ok(stats),
                Err(_) => Err("guest_parse"),
            },
            Err(_) => Err("guest_read"),
        };
        let entry = cache.entry(g.node.clone()).or_insert_with(|| GuestEntry {
            pid: g.pid,
            taken: None,
            stats: Default::default(),
            ok: false,
        });
        match parsed {
            Ok(stats) => {
                *entry = GuestEntry {
                    pid: g.pid,
                    taken: Some(now),
                    stats,
                    ok: true,
                }
            }
            Err(collector) => {
                entry.ok = false;
                state.count_error(collector);
            }
        }
    }
}

/// Refreshes every `every` until `stop` is signalled or dropped.
pub(crate) fn run(state: Arc<State>, every: Duration, timeout: Duration, stop: Receiver<()>) {
    loop {
        let started = Instant::now();
        refresh_once(&state, timeout);
        let wait = every.saturating_sub(started.elapsed());
        match stop.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => continue,
            _ => return,
        }
    }
}
