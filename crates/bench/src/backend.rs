//! How the generator and the sink move frames through their packet sockets: `sendmmsg` /
//! `recvmmsg`, or batches of SENDMSG / RECVMSG requests on an io_uring (the datapath's
//! [`FrameBatch`] and [`Ring`]). Both count the same way (sequence numbers, timestamps,
//! socket drops); only the system-call path differs.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use umlvnf_datapath::{DatapathError, FrameBatch, PacketSocket, Ring};

use crate::error::{BenchError, Result};

/// The I/O backend of the generator and the sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Backend {
    /// `sendmmsg` / `recvmmsg` (`MSG_WAITFORONE`), one system call per batch.
    #[default]
    #[serde(rename = "mmsg")]
    Mmsg,
    /// One io_uring per end; each batch is a chain of linked SENDMSG / RECVMSG requests
    /// submitted and reaped together.
    #[serde(rename = "io_uring")]
    IoUring,
}

impl Backend {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Mmsg => "mmsg",
            Backend::IoUring => "io_uring",
        }
    }

    /// Fails with [`BenchError::BackendUnavailable`] when the kernel refuses this backend.
    pub fn check_available(self) -> Result<()> {
        match self {
            Backend::Mmsg => Ok(()),
            Backend::IoUring => new_ring(2).map(|_| ()),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Backend {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Backend> {
        match s.trim() {
            "mmsg" => Ok(Backend::Mmsg),
            "io_uring" | "io-uring" | "uring" => Ok(Backend::IoUring),
            other => Err(BenchError::InvalidOptions(format!(
                "backend `{other}` is not known: use mmsg or io_uring"
            ))),
        }
    }
}

/// A ring for batches of up to `depth` frames, or [`BenchError::BackendUnavailable`] when
/// the kernel refuses io_uring.
fn new_ring(depth: usize) -> Result<Ring> {
    Ring::new(depth).map_err(|e| match e {
        DatapathError::BackendUnavailable { backend, source } => {
            BenchError::BackendUnavailable { backend, source }
        }
        other => BenchError::Datapath(other),
    })
}

/// The batch I/O of one end (generator or sink) with the backend it was opened for.
pub(crate) enum BatchIo {
    /// `sendmmsg` / `recvmmsg`.
    Mmsg,
    /// An io_uring for batches of the end's size.
    Uring(Box<Ring>),
}

impl BatchIo {
    /// Batch I/O for batches of up to `depth` frames; fails when the kernel refuses the
    /// backend.
    pub(crate) fn new(backend: Backend, depth: usize) -> Result<BatchIo> {
        Ok(match backend {
            Backend::Mmsg => BatchIo::Mmsg,
            Backend::IoUring => BatchIo::Uring(Box::new(new_ring(depth)?)),
        })
    }

    /// Sends the first `n` frames of `batch` in order, stopping at the first that fails;
    /// returns how many the kernel took (an error when not even the first).
    pub(crate) fn send(
        &mut self,
        sock: &PacketSocket,
        batch: &mut FrameBatch,
        n: usize,
    ) -> std::io::Result<usize> {
        match self {
            BatchIo::Mmsg => batch.send(sock, n),
            BatchIo::Uring(ring) => batch.send_ring(ring, sock, n),
        }
    }

    /// Receives up to a batch of frames, waiting for the first one up to `wait` (the mmsg
    /// backend uses the socket's receive timeout instead); returns how many arrived, 0 when
    /// none did.
    pub(crate) fn recv(
        &mut self,
        sock: &PacketSocket,
        batch: &mut FrameBatch,
        wait: Duration,
    ) -> std::io::Result<usize> {
        match self {
            BatchIo::Mmsg => batch.recv(sock),
            BatchIo::Uring(ring) => batch.recv_ring(ring, sock, wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in [Backend::Mmsg, Backend::IoUring] {
            assert_eq!(b.as_str().parse::<Backend>().unwrap(), b);
            assert_eq!(
                serde_json::to_string(&b).unwrap(),
                format!("\"{}\"", b.as_str())
            );
        }
        assert_eq!(Backend::default(), Backend::Mmsg);
        let e = "epoll".parse::<Backend>().unwrap_err().to_string();
        assert!(e.contains("mmsg or io_uring"), "{e}");
    }

    #[test]
    fn a_refused_io_uring_names_the_backend_and_the_way_out() {
        let e = BenchError::BackendUnavailable {
            backend: "io_uring",
            source: std::io::Error::from_raw_os_error(libc::EPERM),
        }
        .to_string();
        assert!(e.contains("io_uring backend cannot be used"), "{e}");
        assert!(e.contains("--backend mmsg"), "{e}");
    }
}
