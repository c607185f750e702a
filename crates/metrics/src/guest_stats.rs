//! Parsing what a guest reports about its interfaces: `/proc/net/dev` and `ethtool -S`.

use std::collections::BTreeMap;

use crate::error::ParseError;

/// One interface line of `/proc/net/dev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetDevCounters {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Receive FIFO overruns.
    pub rx_fifo: u64,
    /// Receive framing errors.
    pub rx_frame: u64,
    /// Compressed packets received.
    pub rx_compressed: u64,
    /// Multicast packets received.
    pub rx_multicast: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Packets dropped on transmit.
    pub tx_dropped: u64,
    /// Transmit FIFO errors.
    pub tx_fifo: u64,
    /// Collisions.
    pub tx_collisions: u64,
    /// Carrier losses.
    pub tx_carrier: u64,
    /// Compressed packets sent.
    pub tx_compressed: u64,
}

/// Everything the guest reported about one of its interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuestInterfaceStats {
    /// Kernel counters, `None` when `/proc/net/dev` had no line for it.
    pub netdev: Option<NetDevCounters>,
    /// `ethtool -S` statistics in the order printed (empty when the driver has none).
    pub ethtool: Vec<(String, u64)>,
}

/// Parses `/proc/net/dev`. Header lines (those with `|`) are skipped; every other non-empty
/// line must be `NAME: 16 numbers`.
pub fn parse_proc_net_dev(text: &str) -> Result<Vec<(String, NetDevCounters)>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.contains('|') {
            continue;
        }
        let bad = || ParseError::NetDevLine {
            line: i + 1,
            text: truncate(trimmed),
        };
        let (name, rest) = trimmed.split_once(':').ok_or_else(bad)?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(bad());
        }
        let nums: Vec<u64> = rest
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        if nums.len() < 16 {
            return Err(bad());
        }
        out.push((
            name.to_string(),
            NetDevCounters {
                rx_bytes: nums[0],
                rx_packets: nums[1],
                rx_errors: nums[2],
                rx_dropped: nums[3],
                rx_fifo: nums[4],
                rx_frame: nums[5],
                rx_compressed: nums[6],
                rx_multicast: nums[7],
                tx_bytes: nums[8],
                tx_packets: nums[9],
                tx_errors: nums[10],
                tx_dropped: nums[11],
                tx_fifo: nums[12],
                tx_collisions: nums[13],
                tx_carrier: nums[14],
                tx_compressed: nums[15],
            },
        ));
    }
    Ok(out)
}

/// Parses the output of `ethtool -S IFACE`: every line `NAME: UNSIGNED` becomes a pair; the
/// `NIC statistics:` header, messages such as `no stats available` and lines whose value is
/// not an unsigned integer are skipped.
pub fn parse_ethtool_stats(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|line| {
            let (name, value) = line.trim().rsplit_once(':')?;
            let name = name.trim();
            let value = value.trim().parse::<u64>().ok()?;
            (!name.is_empty()).then(|| (name.to_string(), value))
        })
        .collect()
}

/// Parses a guest's whole report (what [`crate::LabSource::guest_stats`] returns): everything
/// before the first `== NAME` line is `/proc/net/dev`, each `== NAME` section is that
/// interface's `ethtool -S`.
/// Fails only when the `/proc/net/dev` part is malformed or missing.
pub fn parse_guest_report(text: &str) -> Result<BTreeMap<String, GuestInterfaceStats>, ParseError> {
    let mut sections = text.split("\n== ");
    let head = sections.next().unwrap_or_default();
    // The report always starts with the header of /proc/net/dev.
    if !head.contains('|') {
        return Err(ParseError::NoNetDev {
            text: truncate(head),
        });
    }
    let mut out: BTreeMap<String, GuestInterfaceStats> = BTreeMap::new();
    for (name, counters) in parse_proc_net_dev(head)? {
        out.entry(name).or_default().netdev = Some(counters);
    }
    for section in sections {
        let (name, body) = section.split_once('\n').unwrap_or((section, ""));
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let stats = parse_ethtool_stats(body);
        if stats.is_empty() && !out.contains_key(name) {
            continue;
        }
        out.entry(name.to_string()).or_default().ethtool = stats;
    }
    Ok(out)
}

fn truncate(text: &str) -> String {
    let mut s: String = text.chars().take(120).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from a Debian 6.1.176 UML guest (`umlvnf exec r1 -- sh -c SCRIPT`) after a few
    /// pings through it.
    pub(crate) const CAPTURED: &str = include_str!("../tests/data/guest_report.txt");

    #[test]
    fn parses_captured_proc_net_dev() {
        let report = parse_guest_report(CAPTURED).unwrap();
        assert_eq!(
            report.keys().collect::<Vec<_>>(),
            vec!["eth0", "eth1", "lo"]
        );
        let eth0 = report["eth0"].netdev.unwrap();
        assert_eq!(eth0.rx_bytes, 768);
        assert_eq!(eth0.rx_packets, 11);
        assert_eq!(eth0.rx_dropped, 3);
        assert_eq!(eth0.tx_bytes, 336);
        assert_eq!(eth0.tx_packets, 4);
        assert_eq!(report["eth1"].netdev.unwrap().rx_bytes, 844);
        assert_eq!(report["lo"].netdev.unwrap(), NetDevCounters::default());
    }

    #[test]
    fn parses_captured_ethtool() {
        let report = parse_guest_report(CAPTURED).unwrap();
        let eth0 = &report["eth0"].ethtool;
        assert_eq!(eth0.len(), 14);
        assert_eq!(eth0[0], ("rx_queue_max".to_string(), 2));
        assert!(eth0.contains(&("tx_kicks".to_string(), 1)));
        assert!(eth0.contains(&("sg_linearized".to_string(), 0)));
        assert!(report["lo"].ethtool.is_empty());
    }

    #[test]
    fn proc_net_dev_without_space_after_colon() {
        let text = "Inter-| x\n face |y\n  eth0:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
        let parsed = parse_proc_net_dev(text).unwrap();
        assert_eq!(parsed[0].0, "eth0");
        assert_eq!(parsed[0].1.rx_bytes, 1);
        assert_eq!(parsed[0].1.tx_compressed, 16);
    }

    #[test]
    fn proc_net_dev_rejects_short_and_garbage_lines() {
        let short = "Inter-|\n eth0: 1 2 3\n";
        let err = parse_proc_net_dev(short).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(parse_proc_net_dev("Inter-|\n eth0: a b c d e f g h i j k l m n o p\n").is_err());
        assert!(parse_proc_net_dev("Inter-|\nnot a line\n").is_err());
        assert!(parse_proc_net_dev("").unwrap().is_empty());
    }

    #[test]
    fn report_without_proc_net_dev_is_an_error() {
        let err = parse_guest_report("sh: cat: not found\n== eth0\n").unwrap_err();
        assert!(err.to_string().contains("/proc/net/dev"), "{err}");
        assert!(parse_guest_report("").is_err());
    }

    #[test]
    fn ethtool_skips_noise() {
        let text =
            "NIC statistics:\n     a: 1\n  weird line\n  b: -3\n  c : 18446744073709551615\n\
                    no stats available\n  rx_queue_0_packets: 7\n";
        assert_eq!(
            parse_ethtool_stats(text),
            vec![
                ("a".to_string(), 1),
                ("c".to_string(), u64::MAX),
                ("rx_queue_0_packets".to_string(), 7)
            ]
        );
    }

    #[test]
    fn ethtool_section_for_unknown_interface_without_stats_is_ignored() {
        let text = "Inter-|\n face |\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n== ghost\n== eth0\nNIC statistics:\n  tx_kicks: 9\n";
        let report = parse_guest_report(text).unwrap();
        assert_eq!(report.len(), 1);
        assert_eq!(report["eth0"].ethtool, vec![("tx_kicks".to_string(), 9)]);
    }
}
