//! The two batch system calls, `recvmmsg` and `sendmmsg`, on prepared message headers.

use std::io;
use std::os::fd::RawFd;

/// Receives into the buffers `hdrs` describe with one `recvmmsg` (`flags` such as
/// `MSG_DONTWAIT` or `MSG_WAITFORONE`); returns how many messages arrived, each header's
/// `msg_len` and `msg_flags` set.
///
/// # Safety
/// Every header must be a valid `msghdr` whose iovecs (and name, if any) point into memory
/// that is alive, writable and not otherwise accessed for the duration of the call.
pub(crate) unsafe fn recv(
    fd: RawFd,
    hdrs: &mut [libc::mmsghdr],
    flags: libc::c_int,
) -> io::Result<usize> {
    // SAFETY: the caller guarantees the headers and what they point to; the count is theirs.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            hdrs.len() as libc::c_uint,
            flags,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Sends the messages `hdrs` describe with one `sendmmsg` (`flags` such as `MSG_DONTWAIT`);
/// returns how many the kernel took.
///
/// # Safety
/// Every header must be a valid `msghdr` whose iovecs (and name, if any) point into memory
/// that is alive for the duration of the call; the kernel only reads it (and writes
/// `msg_len`).
pub(crate) unsafe fn send(
    fd: RawFd,
    hdrs: &mut [libc::mmsghdr],
    flags: libc::c_int,
) -> io::Result<usize> {
    // SAFETY: the caller guarantees the headers and what they point to; the count is theirs.
    let n = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), hdrs.len() as libc::c_uint, flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
