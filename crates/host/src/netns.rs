//! Named network namespaces compatible with iproute2 (`/run/netns/NAME`), and ways to run code
//! or programs inside them without changing the calling thread's namespace.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::error::{HostError, Result};
use crate::names::check_netns_name;

/// Directory where iproute2 keeps named network namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Serialises the "make /run/netns a shared mount point" step inside this process.
static RUN_DIR_LOCK: Mutex<()> = Mutex::new(());

/// Path of the bind mount that names namespace `name`.
pub fn netns_path(name: &str) -> Result<PathBuf> {
    check_netns_name(name)?;
    Ok(Path::new(NETNS_RUN_DIR).join(name))
}

/// Opens the namespace file of `name` (read-only, close-on-exec).
pub fn open_netns(name: &str) -> Result<File> {
    let path = netns_path(name)?;
    File::open(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => HostError::NoSuchNetns(name.to_string()),
        _ => HostError::os(format!("open {}", path.display()), e),
    })
}

/// Creates the named network namespace `name`, like `ip netns add NAME`: makes `/run/netns`
/// a shared mount point (bind-mounting it on itself the first time), creates the empty file
/// `/run/netns/NAME`, and bind-mounts a fresh namespace on it. The namespace is created by a
/// dedicated thread, so the caller's namespace does not change. Fails with
/// [`HostError::NetnsExists`] if the name is taken.
pub fn netns_add(name: &str) -> Result<()> {
    let path = netns_path(name)?;
    prepare_run_dir()?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o000)
        .open(&path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => HostError::NetnsExists(name.to_string()),
            _ => HostError::os(format!("create {}", path.display()), e),
        })?;
    let bound = std::thread::scope(|s| {
        s.spawn(|| -> Result<()> {
            unshare(CloneFlags::CLONE_NEWNET).map_err(|e| {
                HostError::errno(format!("create network namespace `{name}`"), e as i32)
            })?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &path,
                Some("none"),
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| {
                HostError::errno(
                    format!(
                        "bind-mount network namespace `{name}` on {}",
                        path.display()
                    ),
                    e as i32,
                )
            })
        })
        .join()
        .unwrap_or_else(|_| {
            Err(HostError::Kernel {
                action: format!("create network namespace `{name}`"),
                source: io::Error::other("the namespace thread panicked"),
            })
        })
    });
    if bound.is_err() {
        let _ = fs::remove_file(&path);
    }
    bound
}

/// Makes `/run/netns` exist and be a shared mount point (`MS_SHARED|MS_REC`), as iproute2 does,
/// so namespace mounts made later propagate to mount namespaces created from this one.
fn prepare_run_dir() -> Result<()> {
    let _guard = RUN_DIR_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(NETNS_RUN_DIR)
        .map_err(|e| HostError::os(format!("create {NETNS_RUN_DIR}"), e))?;
    let mut bound_self = false;
    loop {
        match mount(
            None::<&str>,
            NETNS_RUN_DIR,
            Some("none"),
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        ) {
            Ok(()) => return Ok(()),
            Err(Errno::EINVAL) if !bound_self => {
                // Not a mount point yet: bind it on itself, then retry.
                mount(
                    Some(NETNS_RUN_DIR),
                    NETNS_RUN_DIR,
                    Some("none"),
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| {
                    HostError::errno(format!("bind-mount {NETNS_RUN_DIR} on itself"), e as i32)
                })?;
                bound_self = true;
            }
            Err(e) => {
                return Err(HostError::errno(
                    format!("make {NETNS_RUN_DIR} a shared mount point"),
                    e as i32,
                ))
            }
        }
    }
}

/// Deletes the named network namespace, like `ip netns del NAME`: lazily unmounts and removes
/// `/run/netns/NAME`. The namespace itself lives on while processes or interfaces hold it.
/// Fails with [`HostError::NoSuchNetns`] if there is no such name.
pub fn netns_del(name: &str) -> Result<()> {
    let path = netns_path(name)?;
    if !path.exists() {
        return Err(HostError::NoSuchNetns(name.to_string()));
    }
    match umount2(&path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => {
            return Err(HostError::errno(
                format!("unmount {}", path.display()),
                e as i32,
            ))
        }
    }
    fs::remove_file(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => HostError::NoSuchNetns(name.to_string()),
        _ => HostError::os(format!("remove {}", path.display()), e),
    })
}

/// Whether `/run/netns/NAME` exists (false for invalid names).
pub fn netns_exists(name: &str) -> bool {
    netns_path(name).map(|p| p.exists()).unwrap_or(false)
}

/// Names of all named network namespaces, sorted. Empty if `/run/netns` does not exist.
pub fn netns_list() -> Result<Vec<String>> {
    let entries = match fs::read_dir(NETNS_RUN_DIR) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(HostError::os(format!("list {NETNS_RUN_DIR}"), e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| HostError::os(format!("list {NETNS_RUN_DIR}"), e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Runs `f` on a scoped thread that first joins network namespace `netns`, and returns its
/// result. The calling thread's namespace is unchanged. Inside `f`, use
/// `/proc/thread-self/net/...` rather than `/proc/net/...` (which follows the main thread).
/// A panic in `f` is propagated to the caller.
pub fn run_in_netns<T: Send>(netns: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    let file = open_netns(netns)?;
    std::thread::scope(|s| {
        let handle = s.spawn(move || -> Result<T> {
            setns(file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
                HostError::errno(format!("enter network namespace `{netns}`"), e as i32)
            })?;
            drop(file);
            Ok(f())
        });
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Runs `f` in `netns` if given (see [`run_in_netns`]), else directly on the calling thread.
pub(crate) fn run_in_opt_netns<T: Send>(
    netns: Option<&str>,
    f: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    match netns {
        Some(ns) => run_in_netns(ns, f)?,
        None => f(),
    }
}

/// Builds a [`Command`] that runs `program` with `args` inside network namespace `netns`, like
/// `ip netns exec`. The namespace file is opened now (so a missing namespace is reported here
/// as [`HostError::NoSuchNetns`]); the child joins it in `pre_exec`, then (best effort, as
/// iproute2 does) gets a private mount namespace with a fresh `/sys` so `/sys/class/net` shows
/// the namespace's interfaces. Standard streams are inherited unless the caller changes them.
pub fn try_command_in_netns<S: AsRef<OsStr>>(
    netns: &str,
    program: impl AsRef<OsStr>,
    args: impl IntoIterator<Item = S>,
) -> Result<Command> {
    let file = open_netns(netns)?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    let fd = file.as_raw_fd();
    let enter = move || -> io::Result<()> {
        let _keep = &file;
        // SAFETY: `fd` is an open namespace descriptor owned by `file`, which the closure
        // keeps alive; setns is async-signal-safe.
        if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        remount_sys();
        Ok(())
    };
    // SAFETY: `enter` runs in the forked child before exec and only makes async-signal-safe
    // system calls (setns, unshare, mount, umount2) without locking or allocating; the
    // namespace descriptor is O_CLOEXEC, so the program does not inherit it.
    unsafe {
        cmd.pre_exec(enter);
    }
    Ok(cmd)
}

/// Like [`try_command_in_netns`], but infallible: if the namespace cannot be opened, the
/// returned command fails at `spawn`/`status`/`output` with the OS error of opening
/// `/run/netns/NAME` (for a missing namespace: `No such file or directory`, kind
/// `NotFound`; an invalid name gives `InvalidInput`). Check [`netns_exists`] first for a
/// clearer message.
pub fn command_in_netns<S: AsRef<OsStr>>(
    netns: &str,
    program: impl AsRef<OsStr>,
    args: impl IntoIterator<Item = S>,
) -> Command {
    let program = program.as_ref().to_os_string();
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    match try_command_in_netns(netns, &program, &args) {
        Ok(cmd) => cmd,
        Err(e) => {
            let errno = match e {
                HostError::NoSuchNetns(_) => libc::ENOENT,
                HostError::PermissionDenied { .. } => libc::EACCES,
                HostError::Kernel { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
                _ => libc::EINVAL,
            };
            let mut cmd = Command::new(program);
            cmd.args(args);
            let fail = move || -> io::Result<()> { Err(io::Error::from_raw_os_error(errno)) };
            // SAFETY: `fail` runs in the forked child and only builds an error value from an
            // integer, without locking or allocating.
            unsafe {
                cmd.pre_exec(fail);
            }
            cmd
        }
    }
}

/// Gives the (forked, single-threaded) child its own mount namespace with a sysfs of its
/// network namespace. Failures are ignored: the program still runs in the right namespace.
fn remount_sys() {
    // SAFETY: plain system calls with NUL-terminated static strings; no memory is shared with
    // other threads (we are in a freshly forked child).
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return;
        }
        let none = c"none".as_ptr();
        let root = c"/".as_ptr();
        if libc::mount(
            none,
            root,
            std::ptr::null(),
            libc::MS_SLAVE | libc::MS_REC,
            std::ptr::null(),
        ) != 0
        {
            return;
        }
        let sys = c"/sys".as_ptr();
        if libc::umount2(sys, libc::MNT_DETACH) == 0 {
            let sysfs = c"sysfs".as_ptr();
            if libc::mount(sysfs, sys, sysfs, 0, std::ptr::null()) != 0 {
                libc::mount(sysfs, sys, sysfs, libc::MS_RDONLY, std::ptr::null());
            }
        }
    }
}
