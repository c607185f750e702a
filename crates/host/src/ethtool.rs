//! Interface offloads through the legacy ethtool ioctls (`SIOCETHTOOL`).
//!
//! A frame read from an AF_PACKET socket without a virtio-net header cannot say that its
//! checksum is still to be filled in, or that it is a 64 KiB TSO super-frame. An interface whose
//! frames umlvnf's datapath reads that way must therefore compute checksums and segment itself:
//! [`offloads_off`] turns transmit checksumming, scatter-gather, TSO, GSO and GRO off.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::HostError;
use crate::names::check_ifname;
use crate::netns::run_in_netns;
use crate::Result;

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_STXCSUM: u32 = 0x17;
const ETHTOOL_SSG: u32 = 0x19;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_SGSO: u32 = 0x24;
const ETHTOOL_SGRO: u32 = 0x2c;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

#[repr(C)]
struct IfreqData {
    name: [libc::c_char; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

fn set(sock: &OwnedFd, ifname: &str, cmd: u32, on: bool) -> std::io::Result<()> {
    let mut value = EthtoolValue {
        cmd,
        data: u32::from(on),
    };
    let mut req = IfreqData {
        name: [0; libc::IFNAMSIZ],
        data: (&mut value as *mut EthtoolValue).cast(),
        _pad: [0; 16],
    };
    for (dst, src) in req.name.iter_mut().zip(ifname.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: req is a valid ifreq whose data pointer refers to `value`, alive for the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL, &mut req) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn offloads_off_here(ifname: &str, netns: &str) -> Result<()> {
    // SAFETY: plain socket(2) call; the result is checked and owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(HostError::Kernel {
            action: format!("open a socket to change offloads of `{ifname}`"),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // GSO and TSO first: the kernel refuses to drop checksumming while they depend on it.
    for cmd in [
        ETHTOOL_STSO,
        ETHTOOL_SGSO,
        ETHTOOL_SGRO,
        ETHTOOL_SSG,
        ETHTOOL_STXCSUM,
    ] {
        // Some devices lack a feature (EOPNOTSUPP): only the others matter.
        if let Err(e) = set(&sock, ifname, cmd, false) {
            if e.raw_os_error() == Some(libc::ENODEV) {
                return Err(HostError::NoSuchLink {
                    name: ifname.to_string(),
                    netns: netns.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Turns off transmit checksum offload, scatter-gather, TSO, GSO and GRO of `ifname` in
/// `netns` (`None`: the caller's namespace).
pub fn offloads_off(netns: Option<&str>, ifname: &str) -> Result<()> {
    check_ifname(ifname)?;
    match netns {
        None => offloads_off_here(ifname, "the host namespace"),
        Some(ns) => {
            let place = format!("network namespace `{ns}`");
            run_in_netns(ns, || offloads_off_here(ifname, &place))?
        }
    }
}
