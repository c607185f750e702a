//! Draining a guest console into a log file, with a ring buffer and one attachable client.
//!
//! UML must never block on its console, so a thread reads the console stream at all times and
//! writes everything to the log file and to a ring buffer. An attached client gets a copy of
//! the output (bytes it is too slow to take are dropped, never waited for) and its input is
//! forwarded to the console.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of recent console output kept for [`ConsolePump::tail`].
pub const RING_BYTES: usize = 64 * 1024;

/// Errors of the console pump.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The log file could not be opened.
    #[error(
        "cannot open the console log {path}: {source}; its directory must exist and be writable"
    )]
    Log {
        /// The log path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Another client is attached.
    #[error("another client is already attached to this console; only one may be attached at a time, detach it first")]
    Busy,
    /// The guest's console has closed (the guest is gone).
    #[error("the console is closed because the guest has exited; nothing can attach to it")]
    Closed,
    /// A socket or thread operation failed.
    #[error("console I/O failed: {0}")]
    Io(#[from] io::Error),
}

struct Ring {
    buf: VecDeque<u8>,
}

struct Client {
    stream: UnixStream,
    id: u64,
}

struct Inner {
    console_in: Mutex<UnixStream>,
    ring: Mutex<Ring>,
    grew: Condvar,
    client: Mutex<Option<Client>>,
    next_id: AtomicU64,
    closed: AtomicBool,
}

/// Lock that survives a panicked holder (the data stays usable).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn detach(&self, id: Option<u64>) {
        let mut slot = lock(&self.client);
        if slot
            .as_ref()
            .is_some_and(|c| id.is_none() || id == Some(c.id))
        {
            if let Some(c) = slot.take() {
                let _ = c.stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// The console pump of one guest. Dropping it does not stop the draining thread, which runs
/// until the guest closes its console.
pub struct ConsolePump {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ConsolePump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsolePump")
            .field("attached", &self.is_attached())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl ConsolePump {
    /// Starts draining `console` (the runtime end of the guest's fd 0/1) into `log` (created or
    /// appended to).
    pub fn start(console: UnixStream, log: &Path) -> Result<Self, ConsoleError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|source| ConsoleError::Log {
                path: log.to_path_buf(),
                source,
            })?;
        let inner = Arc::new(Inner {
            console_in: Mutex::new(console.try_clone()?),
            ring: Mutex::new(Ring {
                buf: VecDeque::with_capacity(RING_BYTES),
            }),
            grew: Condvar::new(),
            client: Mutex::new(None),
            next_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
        });
        let pump_inner = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("uml-console".into())
            .spawn(move || pump(pump_inner, console, file))?;
        Ok(ConsolePump {
            inner,
            thread: Some(thread),
        })
    }

    /// Attaches `client`: console output is copied to it and its input goes to the console,
    /// until it disconnects (or the guest exits, which closes it). Returns at once.
    /// Fails with [`ConsoleError::Busy`] while another client is attached.
    pub fn attach(&self, client: UnixStream) -> Result<(), ConsoleError> {
        if self.is_closed() {
            return Err(ConsoleError::Closed);
        }
        let reader = client.try_clone()?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut slot = lock(&self.inner.client);
            if slot.is_some() {
                return Err(ConsoleError::Busy);
            }
            *slot = Some(Client { stream: client, id });
        }
        let inner = Arc::clone(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("uml-console-in".into())
            .spawn(move || relay_input(inner, reader, id));
        if let Err(e) = spawned {
            self.inner.detach(Some(id));
            return Err(e.into());
        }
        // The pump may have closed between the check above and the attach.
        if self.is_closed() {
            self.inner.detach(Some(id));
        }
        Ok(())
    }

    /// True while a client is attached.
    pub fn is_attached(&self) -> bool {
        lock(&self.inner.client).is_some()
    }

    /// Disconnects the attached client, if any.
    pub fn detach(&self) {
        self.inner.detach(None);
    }

    /// True once the guest closed its console (it exited).
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Writes `bytes` to the guest console as if typed.
    pub fn write_input(&self, bytes: &[u8]) -> Result<(), ConsoleError> {
        lock(&self.inner.console_in).write_all(bytes)?;
        Ok(())
    }

    /// The last `n_bytes` of console output (at most [`RING_BYTES`]).
    pub fn tail(&self, n_bytes: usize) -> Vec<u8> {
        let ring = lock(&self.inner.ring);
        let skip = ring.buf.len().saturating_sub(n_bytes);
        ring.buf.iter().skip(skip).copied().collect()
    }

    /// Waits up to `timeout` until `pattern` appears in the retained output (including output
    /// from before the call). Returns false on timeout or when the console closed without it.
    pub fn wait_for(&self, pattern: &[u8], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut ring = lock(&self.inner.ring);
        loop {
            let (a, b) = ring.buf.as_slices();
            let contains = if b.is_empty() {
                find(a, pattern)
            } else {
                find(&[a, b].concat(), pattern)
            };
            if contains {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || self.is_closed() {
                return false;
            }
            ring = self
                .inner
                .grew
                .wait_timeout(ring, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits up to `timeout` for the guest to close its console; true if it did.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_closed() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        true
    }
}

impl Drop for ConsolePump {
    fn drop(&mut self) {
        self.inner.detach(None);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn pump(inner: Arc<Inner>, mut console: UnixStream, mut log: File) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match console.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let data = &buf[..n];
        // A failing log write must not stop the draining.
        let _ = log.write_all(data);
        {
            let mut ring = lock(&inner.ring);
            let over = (ring.buf.len() + n).saturating_sub(RING_BYTES);
            let drop_n = over.min(ring.buf.len());
            ring.buf.drain(..drop_n);
            let keep = &data[n.saturating_sub(RING_BYTES)..];
            ring.buf.extend(keep);
        }
        inner.grew.notify_all();
        let mut slot = lock(&inner.client);
        if let Some(client) = slot.as_ref() {
            if send_nonblocking(&client.stream, data).is_err() {
                if let Some(c) = slot.take() {
                    let _ = c.stream.shutdown(Shutdown::Both);
                }
            }
        }
    }
    inner.closed.store(true, Ordering::Release);
    inner.grew.notify_all();
    inner.detach(None);
}

/// Sends what the client can take now; output it has no room for is dropped.
fn send_nonblocking(stream: &UnixStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: the fd is a live socket and data is a valid buffer of the stated length.
        let rc = unsafe {
            libc::send(
                stream.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(()),
                io::ErrorKind::Interrupted => continue,
                _ => Err(e),
            };
        }
        data = &data[rc as usize..];
    }
    Ok(())
}

fn relay_input(inner: Arc<Inner>, mut client: UnixStream, id: u64) {
    let mut buf = [0u8; 1024];
    loop {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if lock(&inner.console_in).write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    inner.detach(Some(id));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_until(stream: &mut UnixStream, pattern: &[u8]) -> Vec<u8> {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while !find(&got, pattern) {
            let n = stream.read(&mut buf).expect("client read");
            assert!(n > 0, "client closed before {pattern:?} arrived");
            got.extend_from_slice(&buf[..n]);
        }
        got
    }

    /// Real socket pairs stand in for the guest: output reaches the log, the ring and one
    /// client; a second client is refused; input flows back; closing ends everything.
    #[test]
    fn pumps_output_relays_input_and_allows_one_client() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        let (runtime_end, mut guest) = UnixStream::pair().unwrap();
        let mut pump = ConsolePump::start(runtime_end, &log).unwrap();

        guest.write_all(b"boot line 1\n").unwrap();
        assert!(pump.wait_for(b"boot line 1", Duration::from_secs(5)));

        let (mut user, server_side) = UnixStream::pair().unwrap();
        pump.attach(server_side).unwrap();
        assert!(pump.is_attached());
        let (_other, other_server) = UnixStream::pair().unwrap();
        assert!(matches!(pump.attach(other_server), Err(ConsoleError::Busy)));

        guest.write_all(b"prompt# ").unwrap();
        read_until(&mut user, b"prompt# ");
        user.write_all(b"uname\n").unwrap();
        guest
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut typed = [0u8; 6];
        guest.read_exact(&mut typed).unwrap();
        assert_eq!(&typed, b"uname\n");

        // Client leaves: a new one may attach.
        drop(user);
        let start = Instant::now();
        while pump.is_attached() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!pump.is_attached());
        let (mut user2, server2) = UnixStream::pair().unwrap();
        pump.attach(server2).unwrap();

        pump.write_input(b"x").unwrap();
        let mut one = [0u8; 1];
        guest.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"x");

        // The guest goes away: the client sees EOF, the pump is closed.
        drop(guest);
        assert!(pump.wait_closed(Duration::from_secs(5)));
        user2
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        user2.read_to_end(&mut rest).unwrap();
        assert!(matches!(
            pump.attach(UnixStream::pair().unwrap().0),
            Err(ConsoleError::Closed)
        ));
        let text = std::fs::read(&log).unwrap();
        assert_eq!(text, b"boot line 1\nprompt# ");
        assert_eq!(pump.tail(8), b"prompt# ");
    }

    /// A client that never reads must not stall the pump (UML must never block).
    #[test]
    fn a_stalled_client_does_not_block_the_guest() {
        let dir = tempfile::tempdir().unwrap();
        let (runtime_end, mut guest) = UnixStream::pair().unwrap();
        let pump = ConsolePump::start(runtime_end, &dir.path().join("log")).unwrap();
        let (_stalled, server_side) = UnixStream::pair().unwrap();
        pump.attach(server_side).unwrap();
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..64 {
            guest.write_all(&chunk).unwrap();
        }
        guest.write_all(b"END").unwrap();
        assert!(pump.wait_for(b"aEND", Duration::from_secs(10)));
        assert_eq!(pump.tail(usize::MAX).len(), RING_BYTES);
        let log_len = std::fs::metadata(dir.path().join("log")).unwrap().len();
        assert!(log_len >= 64 * 64 * 1024, "log has {log_len} bytes");
    }
}
