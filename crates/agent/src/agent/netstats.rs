//! The interface statistics report, read natively (no process is spawned): `/proc/net/dev`,
//! then for every interface a line `== NAME` followed by its driver statistics in the format
//! `ethtool -S` prints (`NIC statistics:` and one `     name: value` line per counter; nothing
//! when the driver has none). The metrics refresher asks for it every few seconds, so it must
//! stay cheap: one file read and three ioctls per interface.

use std::fmt::Write as _;
use std::io;

/// `SIOCETHTOOL` from `<linux/sockios.h>`.
const SIOCETHTOOL: libc::c_ulong = 0x8946;
/// `ETHTOOL_GDRVINFO`: driver information, including the number of statistics.
const ETHTOOL_GDRVINFO: u32 = 0x03;
/// `ETHTOOL_GSTRINGS`: the names of a string set.
const ETHTOOL_GSTRINGS: u32 = 0x1b;
/// `ETHTOOL_GSTATS`: the statistics values.
const ETHTOOL_GSTATS: u32 = 0x1d;
/// `ETH_SS_STATS`: the string set naming the statistics.
const ETH_SS_STATS: u32 = 1;
/// `ETH_GSTRING_LEN`: bytes per statistic name.
const ETH_GSTRING_LEN: usize = 32;
/// Drivers with more statistics than this are reported without them (no UML driver has more
/// than a few dozen; the cap bounds the buffers).
const MAX_STATS: usize = 4096;

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
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

/// Builds the whole report.
pub fn report() -> io::Result<String> {
    let mut out = std::fs::read_to_string("/proc/net/dev")?;
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // SAFETY: a plain socket call; the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    for name in &names {
        let _ = writeln!(out, "== {name}");
        if let Some(stats) = driver_stats(fd, name) {
            if !stats.is_empty() {
                out.push_str("NIC statistics:\n");
                for (stat, value) in stats {
                    let _ = writeln!(out, "     {stat}: {value}");
                }
            }
        }
    }
    // SAFETY: fd is the socket opened above.
    unsafe { libc::close(fd) };
    Ok(out)
}

/// One `SIOCETHTOOL` call on interface `name` with the command buffer `buf`.
fn ethtool(fd: i32, name: &str, buf: *mut libc::c_void) -> bool {
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: buf,
        _pad: [0; 16],
    };
    let bytes = name.as_bytes();
    if bytes.len() >= libc::IFNAMSIZ {
        return false;
    }
    req.name[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: req is a valid ifreq whose data points at a buffer sized for the command in it.
    unsafe { libc::ioctl(fd, SIOCETHTOOL as _, &mut req) == 0 }
}

/// The driver statistics of interface `name`, `None` when it has none or the calls fail.
fn driver_stats(fd: i32, name: &str) -> Option<Vec<(String, u64)>> {
    let mut info = DrvInfo {
        cmd: ETHTOOL_GDRVINFO,
        strings: [0; 32 * 5 + 12],
        n_priv_flags: 0,
        n_stats: 0,
        testinfo_len: 0,
        eedump_len: 0,
        regdump_len: 0,
    };
    if !ethtool(fd, name, (&mut info as *mut DrvInfo).cast()) {
        return None;
    }
    let n = info.n_stats as usize;
    if n == 0 || n > MAX_STATS {
        return None;
    }
    // ethtool_gstrings: cmd, string_set, len, then len names of ETH_GSTRING_LEN bytes.
    let mut strings = vec![0u32; 3 + n * ETH_GSTRING_LEN / 4];
    strings[0] = ETHTOOL_GSTRINGS;
    strings[1] = ETH_SS_STATS;
    strings[2] = n as u32;
    if !ethtool(fd, name, strings.as_mut_ptr().cast()) {
        return None;
    }
    // ethtool_stats: cmd, n_stats, then n u64 values (8-byte aligned after the two u32s).
    let mut values = vec![0u64; 1 + n];
    values[0] = u64::from(ETHTOOL_GSTATS) | ((n as u64) << 32);
    if !ethtool(fd, name, values.as_mut_ptr().cast()) {
        return None;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_match_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<DrvInfo>(), 196);
        assert_eq!(std::mem::offset_of!(DrvInfo, n_stats), 180);
        assert_eq!(std::mem::offset_of!(IfReq, data), 16);
    }

    #[test]
    fn report_lists_every_interface_of_this_namespace() {
        let text = report().expect("the report of this host's interfaces");
        assert!(text.contains("Inter-|"), "{text}");
        for entry in std::fs::read_dir("/sys/class/net").unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(text.contains(&format!("\n== {name}\n")), "{name}: {text}");
        }
    }

    /// The names and order of each interface's statistics are those `ethtool -S` prints.
    #[test]
    fn statistics_match_ethtool() {
        let text = report().unwrap();
        for section in text.split("\n== ").skip(1) {
            let (name, body) = section.split_once('\n').unwrap_or((section, ""));
            let ethtool = ["/usr/sbin/ethtool", "/sbin/ethtool"]
                .into_iter()
                .find(|p| std::path::Path::new(p).exists())
                .unwrap_or("ethtool");
            let out = std::process::Command::new(ethtool)
                .args(["-S", name])
                .output()
                .expect("ethtool (installed by deploy/install-deps.sh)");
            if !out.status.success() && !std::path::Path::new("/sys/class/net").join(name).exists()
            {
                continue; // removed meanwhile (other tests create and delete interfaces)
            }
            let theirs = String::from_utf8_lossy(&out.stdout);
            let names = |t: &str| -> Vec<String> {
                t.lines()
                    .filter_map(|l| l.trim().rsplit_once(':'))
                    .filter(|(n, v)| !n.is_empty() && v.trim().parse::<u64>().is_ok())
                    .map(|(n, _)| n.trim().to_string())
                    .collect()
            };
            assert_eq!(names(body), names(&theirs), "interface {name}");
        }
    }
}
