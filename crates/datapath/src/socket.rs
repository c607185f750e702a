//! Plain socket calls shared by the datapath's sockets: creating a socket, integer socket
//! options, and growing the socket buffers.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{DatapathError, Result};

/// Turns a negative system-call result into an error saying what was being done.
pub(crate) fn cvt(r: libc::c_int, action: impl FnOnce() -> String) -> Result<libc::c_int> {
    if r < 0 {
        Err(DatapathError::last_os(action()))
    } else {
        Ok(r)
    }
}

/// Creates a close-on-exec socket, non-blocking unless `blocking`.
pub(crate) fn new_socket_with(
    domain: libc::c_int,
    ty: libc::c_int,
    proto: libc::c_int,
    blocking: bool,
) -> Result<OwnedFd> {
    let nonblock = if blocking { 0 } else { libc::SOCK_NONBLOCK };
    // SAFETY: plain system call with integer arguments.
    let fd = unsafe { libc::socket(domain, ty | nonblock | libc::SOCK_CLOEXEC, proto) };
    let fd = cvt(fd, || {
        format!("create a socket (domain {domain}, type {ty})")
    })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates a non-blocking, close-on-exec socket.
pub(crate) fn new_socket(
    domain: libc::c_int,
    ty: libc::c_int,
    proto: libc::c_int,
) -> Result<OwnedFd> {
    new_socket_with(domain, ty, proto, false)
}

/// Sets an integer socket option.
pub(crate) fn setsockopt_int(
    fd: &OwnedFd,
    level: libc::c_int,
    opt: libc::c_int,
    val: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `val` lives across the call and its size is passed.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            &val as *const libc::c_int as *const libc::c_void,
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Reads an integer socket option.
pub(crate) fn getsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    opt: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut val: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `val` and `len` live across the call and `len` holds val's size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            opt,
            &mut val as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(val)
    }
}

/// Raises the socket buffers to `bytes` each (forcing past the sysctl limits when
/// privileged). Best effort.
pub(crate) fn grow_buffers(fd: &OwnedFd, bytes: libc::c_int) {
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if setsockopt_int(fd, libc::SOL_SOCKET, force, bytes).is_err() {
            let _ = setsockopt_int(fd, libc::SOL_SOCKET, plain, bytes);
        }
    }
}

/// A connected pair of unix sockets of type `ty` (e.g. `SOCK_DGRAM`), for tests.
#[cfg(test)]
pub(crate) fn socket_pair(ty: libc::c_int) -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    let r =
        unsafe { libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    // SAFETY: both descriptors were just created and are owned here.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}
