//! The `mconsole=notify:PATH` socket: UML guests report readiness, panics, hangs and user
//! notifications to it.
//!
//! Each datagram is `{u32 magic, u32 version, i32 type, u32 len, char data[len]}` (native
//! endian). The socket has `SO_PASSCRED` set, so every message also carries the host pid of the
//! sending UML process, which maps a panic (whose text does not name the guest) to a node.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mconsole::{MCONSOLE_MAGIC, MCONSOLE_MAX_DATA};

const HEADER: usize = 16;

/// Errors of the notification socket.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Binding the socket failed.
    #[error("cannot bind the notify socket {path}: {source}; the path must be in an existing, writable directory and not exist yet")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Receiving failed.
    #[error("receiving from the notify socket {path} failed: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A datagram did not follow the notification format.
    #[error("malformed notification ({reason}); expected magic 0xcafebabe, a 16-byte header and at most 512 data bytes")]
    Malformed {
        /// What was wrong.
        reason: String,
    },
}

/// Result type of the notify socket.
pub type Result<T> = std::result::Result<T, NotifyError>;

/// What a guest reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Type 0: the guest's mconsole socket is ready (early in boot, before init runs).
    SocketReady {
        /// The guest's mconsole socket path (`<uml_dir>/<umid>/mconsole`).
        mconsole: PathBuf,
    },
    /// Type 1: the guest kernel panicked.
    Panic {
        /// The panic message.
        message: String,
    },
    /// Type 2: the guest is hung.
    Hang,
    /// Type 3: a process in the guest wrote to `/proc/mconsole`.
    User {
        /// The text written (trailing NULs removed, newline kept).
        message: String,
    },
    /// A type this crate does not know.
    Unknown {
        /// The type number.
        kind: i32,
        /// The raw data.
        data: Vec<u8>,
    },
}

/// A received notification and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The notification.
    pub notification: Notification,
    /// Host pid of the sending process (from `SCM_CREDENTIALS`); this is the UML main process.
    pub sender_pid: Option<i32>,
}

/// The bound notification socket; the socket file is removed on drop.
#[derive(Debug)]
pub struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    /// Binds a datagram socket at `path` with mode 0600 and `SO_PASSCRED`. A stale socket file
    /// at `path` is replaced; any other existing file is an error.
    pub fn bind(path: &Path) -> Result<Self> {
        let bind_err = |source| NotifyError::Bind {
            path: path.to_path_buf(),
            source,
        };
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            if meta.file_type().is_socket() {
                std::fs::remove_file(path).map_err(bind_err)?;
            }
        }
        let socket = UnixDatagram::bind(path).map_err(bind_err)?;
        let this = NotifySocket {
            socket,
            path: path.to_path_buf(),
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_err)?;
        let one: libc::c_int = 1;
        // SAFETY: the fd is a valid socket owned by `this`; optval points to a live c_int of the
        // stated size.
        let rc = unsafe {
            libc::setsockopt(
                this.socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PASSCRED,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(bind_err(io::Error::last_os_error()));
        }
        Ok(this)
    }

    /// The socket path (what goes into `mconsole=notify:PATH`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits up to `timeout` for one notification; `Ok(None)` when none arrived in time.
    pub fn recv(&self, timeout: Duration) -> Result<Option<Notification>> {
        Ok(self.recv_from(timeout)?.map(|r| r.notification))
    }

    /// Like [`NotifySocket::recv`], also returning the sender's pid.
    pub fn recv_from(&self, timeout: Duration) -> Result<Option<Received>> {
        let io_err = |source| NotifyError::Io {
            path: self.path.clone(),
            source,
        };
        let timeout = if timeout.is_zero() {
            Duration::from_micros(1)
        } else {
            timeout
        };
        self.socket
            .set_read_timeout(Some(timeout))
            .map_err(io_err)?;
        let mut buf = [0u8; HEADER + MCONSOLE_MAX_DATA + 64];
        // u64 array so the control buffer is aligned for cmsghdr.
        let mut cmsg_buf = [0u64; 8];
        loop {
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // SAFETY: msghdr is a plain C struct; all-zero is a valid empty value.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cmsg_buf.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&cmsg_buf);
            // SAFETY: msg points at live buffers (buf, cmsg_buf) whose sizes it states.
            let n = unsafe { libc::recvmsg(self.socket.as_raw_fd(), &mut msg, 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(io_err(e)),
                }
            }
            let sender_pid = sender_pid(&msg);
            let notification = parse(&buf[..n as usize])?;
            return Ok(Some(Received {
                notification,
                sender_pid,
            }));
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn sender_pid(msg: &libc::msghdr) -> Option<i32> {
    // SAFETY: msg was filled by a successful recvmsg; the CMSG_* macros walk its control buffer
    // within msg_controllen, and SCM_CREDENTIALS data is a `ucred` (read unaligned).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_CREDENTIALS
            {
                let cred = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::ucred>());
                return (cred.pid > 0).then_some(cred.pid);
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

/// Parses one notification datagram.
pub fn parse(buf: &[u8]) -> Result<Notification> {
    if buf.len() < HEADER {
        return Err(NotifyError::Malformed {
            reason: format!("only {} bytes", buf.len()),
        });
    }
    let word = |i: usize| [buf[i], buf[i + 1], buf[i + 2], buf[i + 3]];
    let magic = u32::from_ne_bytes(word(0));
    if magic != MCONSOLE_MAGIC {
        return Err(NotifyError::Malformed {
            reason: format!("magic {magic:#x}"),
        });
    }
    let kind = i32::from_ne_bytes(word(8));
    let len = u32::from_ne_bytes(word(12)) as usize;
    if len > MCONSOLE_MAX_DATA || HEADER + len > buf.len() {
        return Err(NotifyError::Malformed {
            reason: format!("length field {len} but {} data bytes", buf.len() - HEADER),
        });
    }
    let mut data = &buf[HEADER..HEADER + len];
    while let [rest @ .., 0] = data {
        data = rest;
    }
    let text = || String::from_utf8_lossy(data).into_owned();
    Ok(match kind {
        0 => {
            use std::os::unix::ffi::OsStrExt;
            Notification::SocketReady {
                mconsole: PathBuf::from(std::ffi::OsStr::from_bytes(data)),
            }
        }
        1 => Notification::Panic { message: text() },
        2 => Notification::Hang,
        3 => Notification::User { message: text() },
        _ => Notification::Unknown {
            kind,
            data: data.to_vec(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(kind: i32, data: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&MCONSOLE_MAGIC.to_ne_bytes());
        p.extend_from_slice(&2u32.to_ne_bytes());
        p.extend_from_slice(&kind.to_ne_bytes());
        p.extend_from_slice(&(data.len() as u32).to_ne_bytes());
        p.extend_from_slice(data);
        p
    }

    #[test]
    fn parses_every_type() {
        assert_eq!(
            parse(&packet(0, b"/lab/uml/r1/mconsole\0")).unwrap(),
            Notification::SocketReady {
                mconsole: "/lab/uml/r1/mconsole".into()
            }
        );
        assert_eq!(
            parse(&packet(1, b"Attempted to kill init!")).unwrap(),
            Notification::Panic {
                message: "Attempted to kill init!".into()
            }
        );
        assert_eq!(parse(&packet(2, b"")).unwrap(), Notification::Hang);
        assert_eq!(
            parse(&packet(3, b"hello\n")).unwrap(),
            Notification::User {
                message: "hello\n".into()
            }
        );
        assert!(matches!(
            parse(&packet(9, b"x")).unwrap(),
            Notification::Unknown { kind: 9, .. }
        ));
    }

    #[test]
    fn rejects_malformed_packets() {
        let mut p = packet(3, b"hello");
        assert!(parse(&p[..10]).is_err());
        p[12..16].copy_from_slice(&100u32.to_ne_bytes());
        assert!(parse(&p).is_err());
        let mut p = packet(3, b"hello");
        p[0] = 0;
        assert!(parse(&p).is_err());
    }

    #[test]
    fn receives_over_a_real_socket_with_sender_pid_and_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = NotifySocket::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(sock.recv(Duration::from_millis(50)).unwrap(), None);
        let sender = UnixDatagram::unbound().unwrap();
        sender.send_to(&packet(3, b"hi\0"), &path).unwrap();
        let got = sock.recv_from(Duration::from_secs(2)).unwrap().unwrap();
        assert_eq!(
            got.notification,
            Notification::User {
                message: "hi".into()
            }
        );
        assert_eq!(got.sender_pid, Some(std::process::id() as i32));
        sender.send_to(b"garbage", &path).unwrap();
        assert!(sock.recv(Duration::from_secs(2)).is_err());
        // Rebinding over the stale socket file works; the file goes away on drop.
        drop(sock);
        assert!(!path.exists());
        std::fs::write(&path, b"not a socket").unwrap();
        assert!(matches!(
            NotifySocket::bind(&path),
            Err(NotifyError::Bind { .. })
        ));
    }
}
