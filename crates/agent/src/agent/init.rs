//! Init duties: early mounts, standard fds, the raw agent tty, ctrl-alt-del, poweroff.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use super::supervisor::Supervisor;

/// Mounts `fstype` on `target` (creating it) with `data` options, unless something is already
/// mounted there according to `/proc/mounts` (or `/proc` is not mounted yet and the mount
/// reports EBUSY).
fn mount(fstype: &str, target: &str, flags: libc::c_ulong, data: &str) -> io::Result<()> {
    if let Ok(mounts) = fs::read_to_string("/proc/mounts") {
        if mounts
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(target))
        {
            return Ok(());
        }
    }
    let _ = fs::create_dir_all(target);
    let c = |s: &str| CString::new(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e));
    let (src, tgt, ty, dat) = (c(fstype)?, c(target)?, c(fstype)?, c(data)?);
    // SAFETY: all pointers are NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            ty.as_ptr(),
            flags,
            dat.as_ptr().cast(),
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EBUSY) {
            return Ok(());
        }
        return Err(io::Error::new(
            e.kind(),
            format!("mounting {fstype} on {target} failed: {e}"),
        ));
    }
    Ok(())
}

/// Mounts proc, sysfs, devtmpfs, devpts and the tmpfs directories; returns the failures.
pub fn mount_filesystems() -> Vec<io::Error> {
    let nosuid_nodev = libc::MS_NOSUID | libc::MS_NODEV;
    let list: [(&str, &str, libc::c_ulong, &str); 7] = [
        ("proc", "/proc", nosuid_nodev | libc::MS_NOEXEC, ""),
        ("sysfs", "/sys", nosuid_nodev | libc::MS_NOEXEC, ""),
        ("devtmpfs", "/dev", libc::MS_NOSUID, "mode=0755"),
        (
            "devpts",
            "/dev/pts",
            libc::MS_NOSUID | libc::MS_NOEXEC,
            "gid=5,mode=620,ptmxmode=666",
        ),
        ("tmpfs", "/dev/shm", nosuid_nodev, "mode=1777"),
        ("tmpfs", "/tmp", nosuid_nodev, "mode=1777"),
        ("tmpfs", "/run", nosuid_nodev, "mode=0755"),
    ];
    list.iter()
        .filter_map(|(ty, target, flags, data)| mount(ty, target, *flags, data).err())
        .collect()
}

/// Makes sure fds 0, 1 and 2 are open (on `/dev/console`, else `/dev/null`), so that files
/// the agent opens later never land on them.
pub fn ensure_std_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only queries the descriptor table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open("/dev/console")
            .or_else(|_| OpenOptions::new().read(true).write(true).open("/dev/null"));
        if let Ok(f) = f {
            if f.as_raw_fd() != fd {
                // SAFETY: dup2 onto a closed standard fd; `f` stays valid during the call.
                unsafe { libc::dup2(f.as_raw_fd(), fd) };
            } else {
                // The file landed on the fd we wanted: keep it open.
                std::mem::forget(f);
            }
        }
    }
}

/// Asks the kernel to send SIGINT to init on ctrl-alt-del (`mconsole cad`) instead of
/// rebooting at once.
pub fn disable_ctrl_alt_del() -> io::Result<()> {
    // SAFETY: reboot with RB_DISABLE_CAD only changes a kernel flag.
    if unsafe { libc::reboot(libc::RB_DISABLE_CAD) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Opens `path` (the agent's console line) read-write and puts it in raw mode without echo
/// before anything is written to it; input already queued is discarded.
pub fn open_raw_tty(path: &Path) -> io::Result<File> {
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data and is fully written by tcgetattr before use.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is an open tty and `t` a valid termios buffer.
    if unsafe { libc::tcgetattr(fd, &mut t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `t` is a valid termios.
    unsafe { libc::cfmakeraw(&mut t) };
    t.c_cc[libc::VMIN] = 1;
    t.c_cc[libc::VTIME] = 0;
    // SAFETY: `fd` is an open tty and `t` a valid termios.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: flushing the input queue of an open tty.
    unsafe { libc::tcflush(fd, libc::TCIFLUSH) };
    Ok(tty)
}

/// Clean poweroff: terminate every process, sync, remount `/` read-only and power off (with
/// `noreboot` the UML process then exits). Never returns.
pub fn poweroff(sup: &mut Supervisor) -> ! {
    super::log("powering off");
    sup.kill_all(libc::SIGTERM, Duration::from_secs(2));
    sup.kill_all(libc::SIGKILL, Duration::from_secs(1));
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    let root = c"/";
    // SAFETY: the strings are NUL-terminated literals; null fstype/data are allowed for a
    // remount.
    unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_RDONLY,
            std::ptr::null(),
        );
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    // Only reached if the kernel refused; init must not exit.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
