//! Scenarios: what the frames go through, how it is set up, and where the generator, sink
//! and guest run.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{BenchError, Result};

/// Vector depth of the tuned guest's links.
pub const TUNED_DEPTH: u32 = 256;
/// Host `net.core.rmem_default` while the tuned guest boots (its raw sockets get it).
pub const TUNED_RMEM_DEFAULT: u32 = 4 << 20;

/// How a generated guest lab's router attaches to its links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestTransport {
    /// UML `transport=raw` on a veth (the default).
    Raw,
    /// UML `transport=tap`, taps on a bridge.
    Tap,
    /// UML `transport=hybrid`.
    Hybrid,
    /// umlvnf's datapath (UML `transport=bess`).
    Wire,
    /// GRE from the router to umlvnf's datapath, which terminates it for the test hosts.
    Gre,
    /// L2TPv3 over UDP from the router to umlvnf's datapath, terminated for the test hosts.
    L2tpv3,
}

impl GuestTransport {
    /// The topology transport.
    pub fn transport(self) -> umlvnf_topology::Transport {
        use umlvnf_topology::Transport;
        match self {
            GuestTransport::Raw => Transport::Raw,
            GuestTransport::Tap => Transport::Tap,
            GuestTransport::Hybrid => Transport::Hybrid,
            GuestTransport::Wire => Transport::Wire,
            GuestTransport::Gre => Transport::Gre,
            GuestTransport::L2tpv3 => Transport::L2tpv3,
        }
    }

    /// The topology `transport:` value.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestTransport::Raw => "raw",
            GuestTransport::Tap => "tap",
            GuestTransport::Hybrid => "hybrid",
            GuestTransport::Wire => "wire",
            GuestTransport::Gre => "gre",
            GuestTransport::L2tpv3 => "l2tpv3",
        }
    }
}

/// How the two routers of a guest-pair scenario (h1 → r1 ══ X ══ r2 → h2) are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairLink {
    /// umlvnf's wire (`transport: wire`: UML `bess` ⇄ umlvnf datapath ⇄ UML `bess`).
    Wire,
    /// A direct UML-to-UML L2TPv3/UDP link (`transport: l2tpv3`), no umlvnf datapath.
    L2tpv3,
    /// A Linux bridge on the host with the two routers' interfaces as tap ports
    /// (`transport: tap` with a `bridge:` of the bench's): the reference switch.
    Bridge,
    /// Debian's `vde_switch`, both guests attached at run time over mconsole with UML's
    /// vector `vde` transport (vdeplug4's `vde_plug`).
    Vde,
}

impl PairLink {
    /// All four, in the order `pairs` runs them.
    pub const ALL: [PairLink; 4] = [
        PairLink::Wire,
        PairLink::L2tpv3,
        PairLink::Bridge,
        PairLink::Vde,
    ];

    /// The suffix of the scenario name (`pair-wire`, `pair-l2tpv3`, `pair-bridge`,
    /// `pair-vde`).
    pub fn as_str(self) -> &'static str {
        match self {
            PairLink::Wire => "wire",
            PairLink::L2tpv3 => "l2tpv3",
            PairLink::Bridge => "bridge",
            PairLink::Vde => "vde",
        }
    }
}

/// Rules in the FORWARD chain of the `guest-firewall` scenario, none matching the bench's
/// UDP frames (port 9), so that each frame is checked against all of them.
pub const FIREWALL_RULES: u16 = 20;

/// The nftables ruleset of the `guest-nftables` scenario: a `bridge` family forward chain
/// of [`FIREWALL_RULES`] rules, none matching the bench's UDP frames.
pub fn nftables_bridge_rules() -> String {
    let mut r = String::from(
        "table bridge filter {\n  chain forward {\n    type filter hook forward priority 0; \
         policy accept;\n",
    );
    for i in 0..FIREWALL_RULES {
        r.push_str(&format!(
            "    ip protocol tcp tcp dport {} drop\n",
            2000 + i
        ));
    }
    r.push_str("  }\n}\n");
    r
}

/// The iptables ruleset of the `guest-firewall` scenario.
pub fn firewall_rules() -> String {
    let mut r =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for i in 0..FIREWALL_RULES {
        r.push_str(&format!("-A FORWARD -p tcp --dport {} -j DROP\n", 2000 + i));
    }
    r.push_str("-A FORWARD -j ACCEPT\nCOMMIT\n");
    r
}

/// One bench scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Generator → one veth pair → sink: the host's ceiling.
    Veth,
    /// h1 → a namespace with `ip_forward=1` → h2.
    NetnsRouter,
    /// Generator → veth → umlvnf's datapath (one wire) → veth → sink.
    Wire,
    /// Generator → veth → umlvnf's datapath → a tap that is the sink's interface.
    WireTap,
    /// h1 → UML router → h2 with this transport: the quickstart router, or the `--topology`
    /// file with every guest link carried by this transport.
    Guest(GuestTransport),
    /// The `--topology` file deployed as it is.
    GuestTopology,
    /// The quickstart router as a firewall: an iptables ruleset of [`FIREWALL_RULES`] rules
    /// that every frame crosses before the final accept.
    GuestFirewall,
    /// A transparent firewall: the guest bridges its two links (umlvnf wires) and filters
    /// with an nftables `bridge` ruleset of [`FIREWALL_RULES`] rules every frame crosses
    /// (Debian's UML kernel has nftables only for the bridge family).
    GuestNftables,
    /// The quickstart router started by hand with the howto's `linux ...` command line
    /// (raw links with the howto's `depth=128,gro=1`, default socket buffers, not pinned),
    /// without umlvnf's runtime, on the same kernel as [`Scenario::GuestTuned`] (the appliance
    /// kernel's `smp` flavour): see [`crate::howto_guest`].
    GuestPlain,
    /// The same command line as [`Scenario::GuestPlain`] on Debian's `/usr/bin/linux` (6.1);
    /// skipped on hosts where that kernel cannot boot (CPUs with AMX).
    GuestDebian,
    /// The quickstart guest with umlvnf's tuning: guest pinned to CPU 0 (so umlvnf steers
    /// the host's processing of what it sends to CPU 1), generator and sink on CPU 1, `depth`
    /// [`TUNED_DEPTH`], host `net.core.rmem_default` raised while it boots.
    GuestTuned,
    /// Two UML routers in a chain, h1 → r1 (CPU 0) ══ X ══ r2 (CPU 1) → h2, joined by X.
    Pair(PairLink),
}

impl Scenario {
    /// Every scenario name [`Scenario::parse_list`] accepts.
    pub const NAMES: [&'static str; 23] = [
        "veth",
        "netns-router",
        "wire",
        "wire-tap",
        "guest",
        "guest-raw",
        "guest-tap",
        "guest-hybrid",
        "guest-wire",
        "guest-gre",
        "guest-l2tpv3",
        "guest-topology",
        "guest-firewall",
        "guest-nftables",
        "guest-plain",
        "guest-debian",
        "guest-tuned",
        "tuning",
        "pair-wire",
        "pair-l2tpv3",
        "pair-bridge",
        "pair-vde",
        "pairs",
    ];

    /// The default set: veth, netns-router, wire, guest-raw, guest-wire, guest-plain,
    /// guest-tuned.
    pub fn defaults() -> Vec<Scenario> {
        vec![
            Scenario::Veth,
            Scenario::NetnsRouter,
            Scenario::Wire,
            Scenario::Guest(GuestTransport::Raw),
            Scenario::Guest(GuestTransport::Wire),
            Scenario::GuestPlain,
            Scenario::GuestTuned,
        ]
    }

    /// The default set for a run with `--topology`: [`Scenario::defaults`] with
    /// `guest-topology` (the file as it is) ahead of the guest scenarios.
    pub fn defaults_with_topology() -> Vec<Scenario> {
        let mut v = Scenario::defaults();
        let at = v.iter().position(|s| s.is_guest()).unwrap_or(v.len());
        v.insert(at, Scenario::GuestTopology);
        v
    }

    /// Parses one name; `tuning` means `guest-plain`, `guest-tuned` and `guest-debian`,
    /// `guest` means `guest-raw`, `pairs` means `pair-wire`, `pair-l2tpv3`, `pair-bridge` and
    /// `pair-vde`, `all` means [`Scenario::defaults`] plus tap, hybrid, gre, l2tpv3, the two
    /// firewalls, guest-debian and the four pairs.
    pub fn parse_list(name: &str) -> Result<Vec<Scenario>> {
        use GuestTransport as T;
        Ok(match name.trim() {
            "veth" => vec![Scenario::Veth],
            "netns-router" => vec![Scenario::NetnsRouter],
            "wire" => vec![Scenario::Wire],
            "wire-tap" => vec![Scenario::WireTap],
            "guest" | "guest-raw" => vec![Scenario::Guest(T::Raw)],
            "guest-tap" => vec![Scenario::Guest(T::Tap)],
            "guest-hybrid" => vec![Scenario::Guest(T::Hybrid)],
            "guest-wire" => vec![Scenario::Guest(T::Wire)],
            "guest-gre" => vec![Scenario::Guest(T::Gre)],
            "guest-l2tpv3" => vec![Scenario::Guest(T::L2tpv3)],
            "guest-topology" => vec![Scenario::GuestTopology],
            "guest-firewall" => vec![Scenario::GuestFirewall],
            "guest-nftables" => vec![Scenario::GuestNftables],
            "guest-plain" => vec![Scenario::GuestPlain],
            "guest-debian" => vec![Scenario::GuestDebian],
            "guest-tuned" => vec![Scenario::GuestTuned],
            "tuning" => vec![
                Scenario::GuestPlain,
                Scenario::GuestTuned,
                Scenario::GuestDebian,
            ],
            "pair-wire" => vec![Scenario::Pair(PairLink::Wire)],
            "pair-l2tpv3" => vec![Scenario::Pair(PairLink::L2tpv3)],
            "pair-bridge" => vec![Scenario::Pair(PairLink::Bridge)],
            "pair-vde" => vec![Scenario::Pair(PairLink::Vde)],
            "pairs" => PairLink::ALL.into_iter().map(Scenario::Pair).collect(),
            "all" => {
                let mut v = Scenario::defaults();
                v.insert(4, Scenario::Guest(T::Tap));
                v.insert(5, Scenario::Guest(T::Hybrid));
                v.insert(6, Scenario::Guest(T::Gre));
                v.insert(7, Scenario::Guest(T::L2tpv3));
                v.insert(8, Scenario::GuestFirewall);
                v.insert(9, Scenario::GuestNftables);
                v.insert(3, Scenario::WireTap);
                v.push(Scenario::GuestDebian);
                v.extend(PairLink::ALL.into_iter().map(Scenario::Pair));
                v
            }
            other => return Err(BenchError::UnknownScenario(other.to_string())),
        })
    }

    /// Parses a comma-separated list (duplicates dropped, order kept).
    pub fn parse_csv(text: &str) -> Result<Vec<Scenario>> {
        let mut out: Vec<Scenario> = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            for s in Scenario::parse_list(part)? {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        if out.is_empty() {
            return Err(BenchError::UnknownScenario(text.to_string()));
        }
        Ok(out)
    }

    /// Whether it boots a UML guest.
    pub fn is_guest(self) -> bool {
        matches!(
            self,
            Scenario::Guest(_)
                | Scenario::GuestTopology
                | Scenario::GuestFirewall
                | Scenario::GuestNftables
                | Scenario::GuestPlain
                | Scenario::GuestDebian
                | Scenario::GuestTuned
                | Scenario::Pair(_)
        )
    }

    /// One-line description for reports.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::Veth => "generator -> veth pair -> sink (host ceiling)",
            Scenario::NetnsRouter => "h1 -> netns with ip_forward=1 -> h2 (container router)",
            Scenario::Wire => {
                "generator -> veth -> umlvnf datapath wire (own CPU) -> veth -> sink"
            }
            Scenario::WireTap => {
                "generator -> veth -> umlvnf datapath wire (own CPU) -> tap (the sink's interface)"
            }
            Scenario::Guest(GuestTransport::Raw) => "h1 -> UML router, raw vector links -> h2",
            Scenario::Guest(GuestTransport::Tap) => "h1 -> UML router, tap links on bridges -> h2",
            Scenario::Guest(GuestTransport::Hybrid) => "h1 -> UML router, hybrid links -> h2",
            Scenario::Guest(GuestTransport::Wire) => {
                "h1 -> umlvnf wire -> UML router (bess) -> umlvnf wire -> h2"
            }
            Scenario::Guest(GuestTransport::Gre) => {
                "h1 -> umlvnf (GRE end) -> UML router (gre) -> umlvnf (GRE end) -> h2"
            }
            Scenario::Guest(GuestTransport::L2tpv3) => {
                "h1 -> umlvnf (L2TPv3 end) -> UML router (l2tpv3/udp) -> umlvnf -> h2"
            }
            Scenario::GuestTopology => "h1 -> the --topology file as it is -> h2",
            Scenario::GuestFirewall => {
                "h1 -> UML firewall (iptables FORWARD chain of 20 rules, raw links) -> h2"
            }
            Scenario::GuestNftables => {
                "h1 -> umlvnf wire -> UML bridge firewall (nftables bridge forward chain of 20 \
                 rules) -> umlvnf wire -> h2"
            }
            Scenario::GuestPlain => {
                "the quickstart router started by hand with the howto's command line on the \
                 appliance kernel (smp, as guest-tuned), no umlvnf runtime: KERNEL mem=128M \
                 ubd0=COW,MINIMAL ubd1=CONFIG vec0:transport=raw,ifname=p0,depth=128,gro=1 \
                 vec1:...,ifname=p1,... root=/dev/ubda rw init=/sbin/umlvnf-agent con=null \
                 con0=null,fd:2 con1=fd:0,fd:1 (not pinned)"
            }
            Scenario::GuestDebian => {
                "guest-plain's command line (the howto's, not pinned) on Debian's \
                 /usr/bin/linux (6.1) instead of the appliance kernel"
            }
            Scenario::GuestTuned => {
                "UML router deployed by umlvnf on its appliance kernel (smp) with its tuning \
                 (CPU placement incl. receive steering, depth, rmem)"
            }
            Scenario::Pair(PairLink::Wire) => {
                "h1 -> UML r1 (CPU 0) -> umlvnf wire -> UML r2 (CPU 1) -> h2; generator and sink not pinned"
            }
            Scenario::Pair(PairLink::L2tpv3) => {
                "h1 -> UML r1 (CPU 0) -> direct L2TPv3/UDP link -> UML r2 (CPU 1) -> h2; generator and sink not pinned"
            }
            Scenario::Pair(PairLink::Bridge) => {
                "h1 -> UML r1 (CPU 0) -> tap -> Linux bridge -> tap -> UML r2 (CPU 1) -> h2; generator and sink not pinned"
            }
            Scenario::Pair(PairLink::Vde) => {
                "h1 -> UML r1 (CPU 0) -> vde_switch (vector vde transport) -> UML r2 (CPU 1) -> h2; generator and sink not pinned"
            }
        }
    }

    /// CPUs of (generator, sink) and the pinning of what is under test (the guest, or the
    /// datapath's thread), if any.
    pub fn placement(self) -> (usize, usize, Option<usize>) {
        match self {
            Scenario::GuestTuned => (1, 1, Some(0)),
            // The datapath owns a core; the generator drives it from the other one, where
            // the sink also runs.
            Scenario::Wire | Scenario::WireTap => (0, 0, Some(1)),
            _ => (0, 1, None),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scenario::Veth => write!(f, "veth"),
            Scenario::NetnsRouter => write!(f, "netns-router"),
            Scenario::Wire => write!(f, "wire"),
            Scenario::WireTap => write!(f, "wire-tap"),
            Scenario::Guest(t) => write!(f, "guest-{}", t.as_str()),
            Scenario::GuestTopology => write!(f, "guest-topology"),
            Scenario::GuestFirewall => write!(f, "guest-firewall"),
            Scenario::GuestNftables => write!(f, "guest-nftables"),
            Scenario::GuestPlain => write!(f, "guest-plain"),
            Scenario::GuestDebian => write!(f, "guest-debian"),
            Scenario::GuestTuned => write!(f, "guest-tuned"),
            Scenario::Pair(l) => write!(f, "pair-{}", l.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in Scenario::NAMES {
            let list = Scenario::parse_list(n).unwrap();
            assert!(!list.is_empty());
            if !matches!(n, "guest" | "tuning" | "pairs") {
                assert_eq!(list[0].to_string(), n);
            }
        }
        assert_eq!(
            Scenario::parse_csv("veth, tuning,veth").unwrap(),
            vec![
                Scenario::Veth,
                Scenario::GuestPlain,
                Scenario::GuestTuned,
                Scenario::GuestDebian
            ]
        );
        let e = Scenario::parse_csv("vet").unwrap_err().to_string();
        assert!(e.contains("use veth, netns-router"), "{e}");
        let all = Scenario::parse_list("all").unwrap();
        assert_eq!(all.len(), 19);
        assert!(all.contains(&Scenario::GuestDebian));
        assert!(!Scenario::defaults().contains(&Scenario::GuestDebian));
        let pairs = Scenario::parse_csv("pairs,pair-wire").unwrap();
        let names: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            names,
            ["pair-wire", "pair-l2tpv3", "pair-bridge", "pair-vde"]
        );
        assert!(pairs.iter().all(|s| s.is_guest()));
        assert!(!Scenario::defaults().contains(&Scenario::Pair(PairLink::Wire)));
        let with = Scenario::defaults_with_topology();
        assert_eq!(with[3], Scenario::GuestTopology);
        assert_eq!(with.len(), Scenario::defaults().len() + 1);
    }
}
