//! Interface offloads through the legacy ethtool ioctls (`SIOCETHTOOL`).
//!
//! A frame read from an AF_PACKET socket without a virtio-net header cannot say that its
//! checksum is still to be filled in, or that it is a 64 KiB TSO super-frame. An interface whose
//! frames umlvnf's datapath reads that way must therefore compute checksums and segment itself:
//! [`offloads_off`] turns transmit checksumming, scatter-gather, TSO, GSO and GRO off.
//! [`EthtoolSocket::driver_stats`] reads a driver's statistics as `ethtool -S` does.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::HostError;
use crate::names::check_ifname;
use crate::netns::run_in_netns;
use crate::Result;

/// `SIOCETHTOOL` from `<linux/sockios.h>`.
const SIOCETHTOOL: libc::c_ulong = 0x8946;
/// `ETHTOOL_GDRVINFO`: driver information, including the number of statistics.
const ETHTOOL_GDRVINFO: u32 = 0x03;
const ETHTOOL_STXCSUM: u32 = 0x17;
const ETHTOOL_SSG: u32 = 0x19;
/// `ETHTOOL_GSTRINGS`: the names of a string set.
const ETHTOOL_GSTRINGS: u32 = 0x1b;
/// `ETHTOOL_GSTATS`: the statistics values.
const ETHTOOL_GSTATS: u32 = 0x1d;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_SGSO: u32 = 0x24;
const ETHTOOL_SGRO: u32 = 0x2c;
/// `ETH_SS_STATS`: the string set naming the statistics.
const ETH_SS_STATS: u32 = 1;
/// `ETH_GSTRING_LEN`: bytes per statistic name.
const ETH_GSTRING_LEN: usize = 32;
/// Drivers with more statistics than this are reported without them (no UML or veth driver
/// has more than a few dozen; the cap bounds the buffers).
const MAX_STATS: usize = 4096;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// `struct ethtool_drvinfo` (196 bytes).
#[repr(C)]
struct DrvInfo {
    cmd: u32,
    strings: [u8; 32 * 5 + 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

/// `struct ifreq` as `SIOCETHTOOL` uses it: the name and a pointer to the command buffer.
#[repr(C)]
struct IfreqData {
    name: [libc::c_char; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

/// A datagram socket to address ethtool requests to the interfaces of the namespace it was
/// opened in.
pub struct EthtoolSocket(OwnedFd);

impl EthtoolSocket {
    /// Opens the socket in the calling thread's network namespace.
    pub fn open() -> std::io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked and owned below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// One `SIOCETHTOOL` request on `ifname`; `data` is the command buffer, whose first `u32`
    /// is the command and whose size suits it.
    fn request(&self, ifname: &str, data: *mut libc::c_void) -> std::io::Result<()> {
        if ifname.len() >= libc::IFNAMSIZ {
            return Err(std::io::Error::from_raw_os_error(libc::ENODEV));
        }
        let mut req = IfreqData {
            name: [0; libc::IFNAMSIZ],
            data,
            _pad: [0; 16],
        };
        for (dst, src) in req.name.iter_mut().zip(ifname.bytes()) {
            *dst = src as libc::c_char;
        }
        // SAFETY: req is a valid ifreq whose data pointer refers to a buffer the caller sized
        // for the command in it, alive for the call.
        let rc = unsafe { libc::ioctl(self.0.as_raw_fd(), SIOCETHTOOL as _, &mut req) };
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    fn set(&self, ifname: &str, cmd: u32, on: bool) -> std::io::Result<()> {
        let mut value = EthtoolValue {
            cmd,
            data: u32::from(on),
        };
        self.request(ifname, (&mut value as *mut EthtoolValue).cast())
    }

    /// The driver statistics of `ifname` in the names and order `ethtool -S` prints them;
    /// `None` when the driver has none or a request fails.
    pub fn driver_stats(&self, ifname: &str) -> Option<Vec<(String, u64)>> {
        let mut info = DrvInfo {
            cmd: ETHTOOL_GDRVINFO,
            strings: [0; 32 * 5 + 12],
            n_priv_flags: 0,
            n_stats: 0,
            testinfo_len: 0,
            eedump_len: 0,
            regdump_len: 0,
        };
        self.request(ifname, (&mut info as *mut DrvInfo).cast())
            .ok()?;
        let n = info.n_stats as usize;
        if n == 0 || n > MAX_STATS {
            return None;
        }
        // ethtool_gstrings: cmd, string_set, len, then len names of ETH_GSTRING_LEN bytes.
        let mut strings = vec![0u32; 3 + n * ETH_GSTRING_LEN / 4];
        strings[0] = ETHTOOL_GSTRINGS;
        strings[1] = ETH_SS_STATS;
        strings[2] = n as u32;
        self.request(ifname, strings.as_mut_ptr().cast()).ok()?;
        // ethtool_stats: cmd, n_stats, then n u64 values (8-byte aligned after the two u32s).
        let mut values = vec![0u64; 1 + n];
        values[0] = u64::from(ETHTOOL_GSTATS) | ((n as u64) << 32);
        self.request(ifname, values.as_mut_ptr().cast()).ok()?;
        let got = (strings[2] as usize).min(n);
        let name_bytes: Vec<u8> = strings[3..].iter().flat_map(|w| w.to_ne_bytes()).collect();
        Some(
            (0..got)
                .map(|i| {
                    let raw = &name_bytes[i * ETH_GSTRING_LEN..(i + 1) * ETH_GSTRING_LEN];
                    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                    let stat = String::from_utf8_lossy(&raw[..end]).trim().to_string();
                    (stat, values[1 + i])
                })
                .collect(),
        )
    }
}

fn offloads_off_here(ifname: &str, netns: &str) -> Result<()> {
    let sock = EthtoolSocket::open().map_err(|source| HostError::Kernel {
        action: format!("open a socket to change offloads of `{ifname}`"),
        source,
    })?;
    // GSO and TSO first: the kernel refuses to drop checksumming while they depend on it.
    for cmd in [
        ETHTOOL_STSO,
        ETHTOOL_SGSO,
        ETHTOOL_SGRO,
        ETHTOOL_SSG,
        ETHTOOL_STXCSUM,
    ] {
        // Some devices lack a feature (EOPNOTSUPP): only the others matter.
        if let Err(e) = sock.set(ifname, cmd, false) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_match_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<DrvInfo>(), 196);
        assert_eq!(std::mem::offset_of!(DrvInfo, n_stats), 180);
        assert_eq!(std::mem::offset_of!(IfreqData, data), 16);
    }
}
