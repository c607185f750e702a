//! Persistent tap devices for UML's `vecN:transport=tap,ifname=NAME`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use crate::error::{HostError, Result};
use crate::names::{check_alias, check_ifname};
use crate::netns::run_in_opt_netns;
use crate::rtnl::Rtnl;

/// `struct ifreq` as `TUNSETIFF` reads it: the name, then the flags, padded to 40 bytes.
#[repr(C)]
struct IfReqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Opens `/dev/net/tun` (with `extra` open flags) and attaches it to tap `name` with
/// `IFF_TAP | IFF_NO_PI | IFF_VNET_HDR`, creating the tap if it does not exist; `action`
/// names what is being done in errors.
fn open_tap(name: &str, extra: libc::c_int, action: &dyn Fn() -> String) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(extra)
        .open("/dev/net/tun")
        .map_err(|e| HostError::os(format!("{} (opening /dev/net/tun)", action()), e))?;
    let mut req = IfReqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short,
        _pad: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: `file` is an open /dev/net/tun descriptor and `req` is a properly sized,
    // initialised `struct ifreq` that outlives the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        // The tun driver answers EBUSY when a non-tap device has the name, and EINVAL when
        // an existing tap's flags differ; an existing persistent tap of the same flags is
        // silently attached, which is caught by the caller's existence check.
        return Err(match e.raw_os_error() {
            Some(libc::EBUSY) | Some(libc::EEXIST) => HostError::LinkExists(name.to_string()),
            _ => HostError::os(action(), e),
        });
    }
    Ok(file)
}

/// Creates persistent tap `name` in the calling thread's namespace and closes the descriptor.
fn create_tap(name: &str) -> Result<()> {
    let file = open_tap(name, 0, &|| format!("create tap `{name}`"))?;
    // SAFETY: same descriptor; TUNSETPERSIST takes its argument by value.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETPERSIST, 1 as libc::c_ulong) };
    if rc < 0 {
        return Err(HostError::os(
            format!("make tap `{name}` persistent"),
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// `TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6`: the reader takes partial checksums and TCP
/// segmentation offload frames (with their virtio-net header).
const TUN_OFFLOADS: libc::c_ulong = 0x01 | 0x02 | 0x04;

/// Opens a descriptor on the existing persistent tap `name` (made by
/// [`tap_add_persistent`]) from inside `netns` (the tap may have been moved there), with its
/// flags (`IFF_TAP | IFF_NO_PI | IFF_VNET_HDR`), non-blocking and close-on-exec. With
/// `offload`, the tap's interface may hand the reader partial checksums and TSO frames of up
/// to 64 KiB (`TUNSETOFFLOAD`); without, the kernel finishes them before they reach the tap.
pub fn tap_attach(netns: Option<&str>, name: &str, offload: bool) -> Result<OwnedFd> {
    check_ifname(name)?;
    // Attaching to a missing tap would silently create a new, unconfigured one.
    let rtnl = match netns {
        Some(ns) => Rtnl::in_netns(ns)?,
        None => Rtnl::root()?,
    };
    if !rtnl.link_exists(name)? {
        return Err(HostError::NoSuchLink {
            name: name.to_string(),
            netns: netns.map_or_else(
                || "the host namespace".to_string(),
                |n| format!("network namespace `{n}`"),
            ),
        });
    }
    run_in_opt_netns(netns, || {
        let file = open_tap(name, libc::O_NONBLOCK | libc::O_CLOEXEC, &|| {
            format!("attach to tap `{name}`")
        })?;
        let flags = if offload { TUN_OFFLOADS } else { 0 };
        // SAFETY: same descriptor; TUNSETOFFLOAD takes its argument by value.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETOFFLOAD, flags) };
        if rc < 0 {
            return Err(HostError::os(
                format!("set the offloads of tap `{name}`"),
                io::Error::last_os_error(),
            ));
        }
        Ok(OwnedFd::from(file))
    })
}

impl Rtnl {
    /// Creates persistent tap `name` (`IFF_TAP|IFF_NO_PI|IFF_VNET_HDR`, down, owned by root)
    /// in this socket's namespace, closes it so a UML guest can attach with
    /// `transport=tap,ifname=NAME`, and sets `alias` if given. Fails with
    /// [`HostError::LinkExists`] if any interface has the name. Delete it with
    /// [`Rtnl::link_del`].
    pub fn tap_add_persistent(&self, name: &str, alias: Option<&str>) -> Result<()> {
        check_ifname(name)?;
        if let Some(a) = alias {
            check_alias(a)?;
        }
        if self.link_exists(name)? {
            return Err(HostError::LinkExists(name.to_string()));
        }
        run_in_opt_netns(self.netns(), || create_tap(name))?;
        if let Some(a) = alias {
            if let Err(e) = self.link_set_alias(name, a) {
                let _ = self.link_del(name);
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Creates persistent tap `name` in the host namespace (the process's), with `alias` if
/// given: [`Rtnl::tap_add_persistent`] on a fresh [`Rtnl::root`] socket.
pub fn tap_add_persistent(name: &str, alias: Option<&str>) -> Result<()> {
    Rtnl::root()?.tap_add_persistent(name, alias)
}
