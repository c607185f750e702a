//! Client of a running guest's management console (`<uml_dir>/<umid>/mconsole`).
//!
//! The protocol is datagrams over an AF_UNIX socket, native endian:
//! request `{u32 magic = 0xcafebabe, u32 version = 2, u32 len, char data[512]}`,
//! reply `{u32 err, u32 more, u32 len, char data[512]}` repeated until `more == 0`.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Magic number opening every mconsole request and notification.
pub const MCONSOLE_MAGIC: u32 = 0xcafe_babe;
/// Protocol version spoken by this client (and by the Debian 6.1 UML kernel).
pub const MCONSOLE_VERSION: u32 = 2;
/// Size of the data field of requests and replies.
pub const MCONSOLE_MAX_DATA: usize = 512;

/// Default time to wait for a reply in the convenience methods.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

const REPLY_HEADER: usize = 12;

/// Errors of the mconsole client.
#[derive(Debug, thiserror::Error)]
pub enum MconsoleError {
    /// The client socket could not be created or connected.
    #[error("cannot connect to the mconsole socket {path}: {source}; it must be the `mconsole` socket of a running guest")]
    Connect {
        /// The mconsole socket path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The command contains something other than printable ASCII.
    #[error("the mconsole command {command:?} is not valid: only printable ASCII (space to `~`) is allowed")]
    NotAscii {
        /// The rejected command.
        command: String,
    },
    /// The command is empty or does not fit in one request.
    #[error("the mconsole command is {len} bytes long; it must be 1 to 511 bytes")]
    BadLength {
        /// The length of the rejected command.
        len: usize,
    },
    /// Sending or receiving failed.
    #[error("mconsole I/O on {path} failed: {source}")]
    Io {
        /// The mconsole socket path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// No (complete) reply arrived in time.
    #[error("the guest did not answer the mconsole command {command:?} within {timeout:?}; it may be stopped, hung or gone")]
    Timeout {
        /// The command sent.
        command: String,
        /// The time waited.
        timeout: Duration,
        /// Reply text received before the time ran out.
        partial: String,
    },
    /// A reply was malformed.
    #[error("the guest sent a malformed mconsole reply ({reason}); expected a 12-byte header and at most 512 data bytes")]
    BadReply {
        /// What was wrong with it.
        reason: String,
    },
    /// The guest answered with an error.
    #[error("the guest refused the mconsole command {command:?}: {message}")]
    Command {
        /// The command sent.
        command: String,
        /// The error text sent by the guest.
        message: String,
    },
}

/// Result type of the mconsole client.
pub type Result<T> = std::result::Result<T, MconsoleError>;

/// A connected mconsole client. Its own socket is a file in the temporary directory, removed on
/// drop (a path, not an abstract address, so it works when the guest runs in another network
/// namespace).
#[derive(Debug)]
pub struct Mconsole {
    socket: UnixDatagram,
    path: PathBuf,
    own_path: PathBuf,
}

static CLIENT_SEQ: AtomicU64 = AtomicU64::new(0);

impl Mconsole {
    /// Binds a private client socket (mode 0600) and connects it to the mconsole socket at `path`.
    pub fn connect(path: &Path) -> Result<Self> {
        let connect_err = |source| MconsoleError::Connect {
            path: path.to_path_buf(),
            source,
        };
        let (socket, own_path) = bind_client_socket().map_err(connect_err)?;
        let client = Mconsole {
            socket,
            path: path.to_path_buf(),
            own_path,
        };
        client.socket.connect(path).map_err(connect_err)?;
        Ok(client)
    }

    /// The mconsole socket this client talks to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `command` and returns the guest's reply text (all parts joined, trailing NULs
    /// removed). A reply with `err != 0` becomes [`MconsoleError::Command`].
    pub fn command(&self, command: &str, timeout: Duration) -> Result<String> {
        let request = encode_request(command)?;
        let io_err = |source| MconsoleError::Io {
            path: self.path.clone(),
            source,
        };
        self.drain_stale();
        self.socket.send(&request).map_err(io_err)?;
        let deadline = Instant::now() + timeout;
        let mut text = Vec::new();
        let mut buf = [0u8; REPLY_HEADER + MCONSOLE_MAX_DATA + 64];
        loop {
            let now = Instant::now();
            let timed_out = || MconsoleError::Timeout {
                command: command.to_string(),
                timeout,
                partial: String::from_utf8_lossy(&text).into_owned(),
            };
            if now >= deadline {
                return Err(timed_out());
            }
            self.socket
                .set_read_timeout(Some(deadline - now))
                .map_err(io_err)?;
            let n = match self.socket.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Err(timed_out());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(e)),
            };
            let reply = decode_reply(&buf[..n])?;
            text.extend_from_slice(reply.data);
            if reply.err != 0 {
                return Err(MconsoleError::Command {
                    command: command.to_string(),
                    message: String::from_utf8_lossy(&text).trim_end().to_string(),
                });
            }
            if reply.more == 0 {
                return Ok(String::from_utf8_lossy(&text).into_owned());
            }
        }
    }

    /// `version`: the guest kernel's version line (e.g. `Linux (none) 6.1.176 #1 ... x86_64`).
    pub fn version(&self) -> Result<String> {
        self.command("version", DEFAULT_TIMEOUT)
    }

    /// `cad`: Ctrl-Alt-Del. The guest's init decides what happens (the agent powers off).
    pub fn cad(&self) -> Result<()> {
        self.command("cad", DEFAULT_TIMEOUT).map(drop)
    }

    /// `halt`: halts the guest kernel at once (no init involvement); the UML process exits.
    pub fn halt(&self) -> Result<()> {
        self.command("halt", DEFAULT_TIMEOUT).map(drop)
    }

    /// `proc PATH`: reads `/proc/PATH` inside the guest.
    ///
    /// This fails for files without kernel-read support, notably every `net/*` file
    /// (`Read of file failed`, on Debian's 6.1 and on 7.3); `meminfo`, `version`, `uptime`,
    /// `cpuinfo` and `sys/...` work. `self/...` names the kernel worker serving the request:
    /// on 7.3 `mounts` (`self/mounts`) is empty, `1/mounts` (init's) lists the guest's mounts.
    pub fn proc_read(&self, path: &str) -> Result<String> {
        self.command(&format!("proc {path}"), DEFAULT_TIMEOUT)
    }

    /// `sysrq KEY`: the magic SysRq key; returns the captured output. Keys with long output
    /// (such as `m` or `t`) may never complete their reply on the 6.1 kernel and then time out.
    pub fn sysrq(&self, key: char) -> Result<String> {
        if !key.is_ascii_graphic() {
            return Err(MconsoleError::NotAscii {
                command: format!("sysrq {key}"),
            });
        }
        self.command(&format!("sysrq {key}"), DEFAULT_TIMEOUT)
    }

    /// Throws away replies left over from an earlier command that timed out.
    fn drain_stale(&self) {
        let mut buf = [0u8; REPLY_HEADER + MCONSOLE_MAX_DATA + 64];
        if self.socket.set_nonblocking(true).is_ok() {
            while self.socket.recv(&mut buf).is_ok() {}
            let _ = self.socket.set_nonblocking(false);
        }
    }
}

impl Drop for Mconsole {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.own_path);
    }
}

fn bind_client_socket() -> io::Result<(UnixDatagram, PathBuf)> {
    let dir = std::env::temp_dir();
    let mut last_err = None;
    for _ in 0..8 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "umlvnf-mc-{}-{}-{nanos:x}.sock",
            std::process::id(),
            CLIENT_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        match UnixDatagram::bind(&path) {
            Ok(sock) => {
                if let Err(e) =
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                {
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
                return Ok((sock, path));
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free client socket name")))
}

/// Builds the request datagram for `command`, rejecting non-ASCII or oversized commands.
pub(crate) fn encode_request(command: &str) -> Result<Vec<u8>> {
    if !command.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(MconsoleError::NotAscii {
            command: command.to_string(),
        });
    }
    let len = command.len();
    if len == 0 || len >= MCONSOLE_MAX_DATA {
        return Err(MconsoleError::BadLength { len });
    }
    let mut out = Vec::with_capacity(12 + MCONSOLE_MAX_DATA);
    out.extend_from_slice(&MCONSOLE_MAGIC.to_ne_bytes());
    out.extend_from_slice(&MCONSOLE_VERSION.to_ne_bytes());
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(command.as_bytes());
    out.resize(12 + MCONSOLE_MAX_DATA, 0);
    Ok(out)
}

/// One reply datagram.
pub(crate) struct Reply<'a> {
    pub(crate) err: u32,
    pub(crate) more: u32,
    /// Data with the trailing NUL(s) removed.
    pub(crate) data: &'a [u8],
}

pub(crate) fn decode_reply(buf: &[u8]) -> Result<Reply<'_>> {
    if buf.len() < REPLY_HEADER {
        return Err(MconsoleError::BadReply {
            reason: format!("only {} bytes", buf.len()),
        });
    }
    let word = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let (err, more, len) = (word(0), word(4), word(8) as usize);
    if len > MCONSOLE_MAX_DATA || REPLY_HEADER + len > buf.len() {
        return Err(MconsoleError::BadReply {
            reason: format!("length field {len} but {} data bytes", buf.len() - 12),
        });
    }
    let mut data = &buf[REPLY_HEADER..REPLY_HEADER + len];
    while let [rest @ .., 0] = data {
        data = rest;
    }
    Ok(Reply { err, more, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout_is_magic_version_len_data() {
        let req = encode_request("version").unwrap();
        assert_eq!(req.len(), 12 + 512);
        assert_eq!(&req[0..4], &0xcafe_babe_u32.to_ne_bytes());
        assert_eq!(&req[4..8], &2u32.to_ne_bytes());
        assert_eq!(&req[8..12], &7u32.to_ne_bytes());
        assert_eq!(&req[12..19], b"version");
        assert!(req[19..].iter().all(|&b| b == 0));
    }

    #[test]
    fn rejects_non_ascii_control_and_oversized_commands() {
        assert!(matches!(
            encode_request("proc n\u{e9}t"),
            Err(MconsoleError::NotAscii { .. })
        ));
        assert!(matches!(
            encode_request("halt\nreboot"),
            Err(MconsoleError::NotAscii { .. })
        ));
        assert!(matches!(
            encode_request(""),
            Err(MconsoleError::BadLength { len: 0 })
        ));
        assert!(matches!(
            encode_request(&"a".repeat(512)),
            Err(MconsoleError::BadLength { len: 512 })
        ));
        assert!(encode_request(&"a".repeat(511)).is_ok());
    }

    #[test]
    fn reply_decoding_strips_nul_and_checks_lengths() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&1u32.to_ne_bytes());
        buf.extend_from_slice(&4u32.to_ne_bytes());
        buf.extend_from_slice(b"abc\0");
        let r = decode_reply(&buf).unwrap();
        assert_eq!((r.err, r.more, r.data), (0, 1, &b"abc"[..]));
        assert!(decode_reply(&buf[..8]).is_err());
        buf[8..12].copy_from_slice(&600u32.to_ne_bytes());
        assert!(decode_reply(&buf).is_err());
    }

    /// A fake guest on a real socket: multi-part replies are joined, errors surface.
    #[test]
    fn talks_to_a_fake_guest_over_a_real_socket() {
        let dir = tempfile::tempdir().unwrap();
        let server_path = dir.path().join("mconsole");
        let server = UnixDatagram::bind(&server_path).unwrap();
        let handle = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            for _ in 0..2 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                assert_eq!(n, 524);
                let len = u32::from_ne_bytes(buf[8..12].try_into().unwrap()) as usize;
                let cmd = String::from_utf8(buf[12..12 + len].to_vec()).unwrap();
                let from = from.as_pathname().unwrap().to_path_buf();
                let send = |err: u32, more: u32, text: &str| {
                    let mut r = Vec::new();
                    r.extend_from_slice(&err.to_ne_bytes());
                    r.extend_from_slice(&more.to_ne_bytes());
                    r.extend_from_slice(&(text.len() as u32 + 1).to_ne_bytes());
                    r.extend_from_slice(text.as_bytes());
                    r.push(0);
                    server.send_to(&r, &from).unwrap();
                };
                if cmd == "version" {
                    send(0, 1, "Linux ");
                    send(0, 0, "6.1.176");
                } else {
                    send(1, 0, "Unknown command");
                }
            }
        });
        let mc = Mconsole::connect(&server_path).unwrap();
        assert_eq!(mc.version().unwrap(), "Linux 6.1.176");
        match mc.command("bogus", DEFAULT_TIMEOUT) {
            Err(MconsoleError::Command { message, .. }) => assert_eq!(message, "Unknown command"),
            other => panic!("expected a command error, got {other:?}"),
        }
        handle.join().unwrap();
        let own = mc.own_path.clone();
        assert!(own.exists());
        drop(mc);
        assert!(!own.exists(), "client socket file must be removed on drop");
    }

    #[test]
    fn connect_to_missing_socket_fails_cleanly() {
        let err = Mconsole::connect(Path::new("/nonexistent/umlvnf/mconsole")).unwrap_err();
        assert!(matches!(err, MconsoleError::Connect { .. }));
    }
}
