//! The metrics server: an HTTP thread serving `/metrics` and a guest statistics refresher.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::collect::State;
use crate::error::MetricsError;
use crate::source::LabSource;
use crate::{http, refresher};

/// Default listen address of `umlvnf up`'s metrics endpoint.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9477";

/// Default interval between two reads of statistics from inside the guests.
pub const DEFAULT_GUEST_REFRESH: Duration = Duration::from_secs(5);

/// Timeout of one guest read for a given refresh interval: the interval, kept within 1–10 s.
pub fn guest_read_timeout(guest_refresh: Duration) -> Duration {
    guest_refresh.clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// Stated maximum age of cached guest statistics for a given refresh interval:
/// `max(refresh, timeout) + timeout + 1 s` (11 s for the default 5 s). Statistics older than
/// this are not exported (the age itself still is, as `umlvnf_guest_stats_age_seconds`).
pub fn guest_stats_max_age(guest_refresh: Duration) -> Duration {
    let timeout = guest_read_timeout(guest_refresh);
    guest_refresh.max(timeout) + timeout + Duration::from_secs(1)
}

/// A running metrics endpoint. Stops when [`MetricsServer::shutdown`] is called or it is
/// dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    max_age: Duration,
    stop: Arc<AtomicBool>,
    refresher_stop: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl MetricsServer {
    /// Binds `listen` (port 0 picks a free one), then serves `GET /metrics` (OpenMetrics text,
    /// or Prometheus text 0.0.4 when the client only accepts `text/plain` or asks
    /// `?format=prometheus`) and `GET /` on one thread that serves every connection at once
    /// (an idle client is closed after 2 s and never delays a scrape), and reads guest
    /// statistics every `guest_refresh` (100 ms–1 h) on another. Fails when the address is
    /// taken or not bindable.
    pub fn start(
        listen: SocketAddr,
        source: Arc<dyn LabSource>,
        guest_refresh: Duration,
    ) -> Result<MetricsServer, MetricsError> {
        if guest_refresh < Duration::from_millis(100) || guest_refresh > Duration::from_secs(3600) {
            return Err(MetricsError::RefreshInterval {
                given_ms: guest_refresh.as_millis(),
            });
        }
        let listener = TcpListener::bind(listen).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AddrInUse {
                MetricsError::AddressInUse { addr: listen }
            } else {
                MetricsError::Bind {
                    addr: listen,
                    source,
                }
            }
        })?;
        let bind_err = |source| MetricsError::Bind {
            addr: listen,
            source,
        };
        let addr = listener.local_addr().map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let max_age = guest_stats_max_age(guest_refresh);
        let state = Arc::new(State {
            source,
            max_age,
            cache: Mutex::new(HashMap::new()),
            errors: Mutex::new(BTreeMap::new()),
            last_scrape: Mutex::new(None),
            cpu_floor: Mutex::new(HashMap::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut server = MetricsServer {
            addr,
            max_age,
            stop: stop.clone(),
            refresher_stop: None,
            threads: Vec::new(),
        };
        let http_state = state.clone();
        let http = std::thread::Builder::new()
            .name("umlvnf-metrics".into())
            .spawn(move || http::serve(listener, http_state, stop))
            .map_err(MetricsError::Thread)?;
        server.threads.push(http);
        let (tx, rx) = channel();
        let timeout = guest_read_timeout(guest_refresh);
        let refresher = std::thread::Builder::new()
            .name("umlvnf-metrics-guests".into())
            .spawn(move || refresher::run(state, guest_refresh, timeout, rx))
            .map_err(MetricsError::Thread)?;
        server.refresher_stop = Some(tx);
        server.threads.push(refresher);
        Ok(server)
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stated maximum age of the guest statistics this server exports.
    pub fn guest_stats_max_age(&self) -> Duration {
        self.max_age
    }

    /// Stops both threads and waits for them (at most about 100 ms plus one guest read in
    /// progress).
    pub fn shutdown(mut self) {
        self.stop_threads();
    }

    fn stop_threads(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.refresher_stop = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop_threads();
    }
}
