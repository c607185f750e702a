//! The interface statistics report, read natively (no process is spawned): `/proc/net/dev`,
//! then for every interface a line `== NAME` followed by its driver statistics in the format
//! `ethtool -S` prints (`NIC statistics:` and one `     name: value` line per counter; nothing
//! when the driver has none). The metrics refresher asks for it every few seconds, so it must
//! stay cheap: one file read and three ioctls per interface.

use std::fmt::Write as _;
use std::io;

use umlvnf_host::EthtoolSocket;

/// Builds the whole report.
pub fn report() -> io::Result<String> {
    let mut out = std::fs::read_to_string("/proc/net/dev")?;
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let sock = EthtoolSocket::open()?;
    for name in &names {
        let _ = writeln!(out, "== {name}");
        if let Some(stats) = sock.driver_stats(name) {
            if !stats.is_empty() {
                out.push_str("NIC statistics:\n");
                for (stat, value) in stats {
                    let _ = writeln!(out, "     {stat}: {value}");
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
