//! Plans of gre, l2tpv3 and wire links: mirrored tunnel options, allocated addresses,
//! capabilities, and the wires the datapath must create.

use std::path::{Path, PathBuf};

use umlvnf::plan::{self, WireEncap, WireSocket};

fn plan_of(text: &str) -> plan::Plan {
    let topo =
        umlvnf_topology::load_str(text, Path::new("/tmp/t.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let ctx = umlvnf::images::planned_context(
        &topo,
        PathBuf::from("/var/lib/umlvnf/labs"),
        [("minimal".to_string(), PathBuf::from("/img/minimal.ext4"))].into(),
        true,
    )
    .expect("context");
    plan::plan(&topo, &ctx).expect("plans")
}

fn vec_arg<'a>(p: &'a plan::Plan, node: &str, dev: &str) -> &'a str {
    let g = p.guests.iter().find(|g| g.node == node).expect("guest");
    g.argv
        .iter()
        .find_map(|a| a.strip_prefix(&format!("{dev}:")))
        .expect("vector device")
}

fn opt<'a>(arg: &'a str, key: &str) -> Option<&'a str> {
    arg.split(',')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
}

#[test]
fn guest_to_guest_tunnels_mirror_their_options() {
    let p = plan_of(
        "name: t\nnodes: {r1: {}, r2: {}}\nlinks:\n  - endpoints: [r1:eth0, r2:eth0]\n    transport: gre\n    gre: {rx_key: 0xfffffff0, tx_key: 5}\n  - endpoints: [r1:eth1, r2:eth1]\n    transport: l2tpv3\n    l2tpv3: {rx_session: 0x80000000, tx_session: 7, rx_cookie: 1, tx_cookie: 0xffffffff}\n",
    );
    let (a, b) = (vec_arg(&p, "r1", "vec0"), vec_arg(&p, "r2", "vec0"));
    assert_eq!(opt(a, "transport"), Some("gre"));
    assert_eq!(
        (opt(a, "rx_key"), opt(a, "tx_key")),
        (Some("-16"), Some("5"))
    );
    assert_eq!(
        (opt(b, "rx_key"), opt(b, "tx_key")),
        (Some("5"), Some("-16"))
    );
    assert_eq!(opt(a, "src"), opt(b, "dst"));
    assert_eq!(opt(a, "dst"), opt(b, "src"));
    assert_ne!(
        opt(a, "src"),
        opt(a, "dst"),
        "one GRE tunnel per local address"
    );
    assert!(opt(a, "src").is_some_and(|s| s.starts_with("127.")));
    let (a, b) = (vec_arg(&p, "r1", "vec1"), vec_arg(&p, "r2", "vec1"));
    assert_eq!(opt(a, "udp"), Some("1"));
    assert_eq!(
        (opt(a, "rx_session"), opt(a, "tx_session")),
        (Some("-2147483648"), Some("7"))
    );
    assert_eq!(
        (opt(b, "rx_session"), opt(b, "tx_session")),
        (Some("7"), Some("-2147483648"))
    );
    assert_eq!(
        (opt(a, "rx_cookie"), opt(b, "rx_cookie")),
        (Some("1"), Some("4294967295"))
    );
    assert_eq!(opt(a, "srcport"), opt(b, "dstport"));
    assert_eq!(opt(a, "src_port"), None, "UML ignores src_port");
    assert!(p.wires.is_empty());
    // GRE needs CAP_NET_RAW; the plan is deterministic.
    assert!(p.guests.iter().all(|g| g.capabilities == ["CAP_NET_RAW"]));
    let again = plan_of(
        "name: t\nnodes: {r1: {}, r2: {}}\nlinks:\n  - endpoints: [r1:eth0, r2:eth0]\n    transport: gre\n    gre: {rx_key: 0xfffffff0, tx_key: 5}\n  - endpoints: [r1:eth1, r2:eth1]\n    transport: l2tpv3\n    l2tpv3: {rx_session: 0x80000000, tx_session: 7, rx_cookie: 1, tx_cookie: 0xffffffff}\n",
    );
    assert_eq!(again.guests[0].argv, p.guests[0].argv);
}

#[test]
fn udp_and_bess_guests_keep_no_capabilities() {
    let p = plan_of(
        "name: t\nnodes: {r1: {}, r2: {}}\nlinks:\n  - endpoints: [r1:eth0, r2:eth0]\n    transport: l2tpv3\n  - endpoints: [r1:eth1, r2:eth1]\n    transport: wire\n",
    );
    assert!(p.guests.iter().all(|g| g.capabilities.is_empty()));
    let w = &p.wires[0];
    assert_eq!(w.name, "link1");
    assert_eq!(w.depth, 64);
    for (end, node) in w.ends.iter().zip(["r1", "r2"]) {
        let WireSocket::Seqpacket { path } = &end.socket else {
            panic!("bess end expected: {end:?}");
        };
        assert_eq!(
            path,
            Path::new(&format!("/var/lib/umlvnf/labs/t/wires/link1-{node}.sock"))
        );
        let arg = vec_arg(&p, node, "vec1");
        assert_eq!(opt(arg, "transport"), Some("bess"));
        assert_eq!(opt(arg, "dst"), path.to_str());
    }
}

#[test]
fn host_ends_become_datapath_wires() {
    let p = plan_of(
        "name: t\nnodes: {r1: {}, h1: {kind: host}}\nlinks:\n  - endpoints: [r1:eth0, h1:eth0]\n    transport: gre\n    gre: {rx_key: 1, tx_key: 2}\n    impair: {h1:eth0: {loss: 50%, delay: 2ms, jitter: 1ms}}\n    filter: {h1:eth0: not icmp}\n",
    );
    let w = &p.wires[0];
    let WireSocket::RawIp {
        proto,
        local,
        remote,
        encap,
    } = &w.ends[0].socket
    else {
        panic!("raw GRE end expected: {:?}", w.ends[0]);
    };
    assert_eq!(*proto, 47);
    let g = vec_arg(&p, "r1", "vec0");
    assert_eq!(opt(g, "src"), Some(remote.to_string().as_str()));
    assert_eq!(opt(g, "dst"), Some(local.to_string().as_str()));
    // The datapath receives what the guest sends.
    assert_eq!(
        *encap,
        WireEncap::Gre {
            rx_key: Some(2),
            tx_key: Some(1),
            sequence: false
        }
    );
    let WireSocket::Packet { ifname, .. } = &w.ends[1].socket else {
        panic!("packet end expected");
    };
    assert!(p
        .host_steps
        .iter()
        .any(|s| matches!(s, plan::HostStep::Veth { peer, .. } if peer == ifname)));
    // h1 sends b->a; filters apply to what h1 receives, i.e. frames received on a.
    assert!(w.impair[0].is_none());
    let imp = w.impair[1].as_ref().expect("b->a impaired");
    let ms = |d: Option<umlvnf_topology::Delay>| d.map(|d| d.duration.as_millis());
    assert_eq!(
        (imp.loss.map(|p| p.ratio), ms(imp.delay), ms(imp.jitter)),
        (Some(0.5), Some(2), Some(1))
    );
    assert_eq!(w.filter, [Some("not icmp".to_string()), None]);
}

#[test]
fn raw_guest_filters_become_bpf_files() {
    let p = plan_of(
        "name: t\nhost_access: {host_interfaces: true}\nnodes: {r1: {}}\nlinks:\n  - endpoints: [r1:eth0, host:t0]\n    filter: {r1:eth0: icmp}\n    bpfflash: true\n",
    );
    let arg = vec_arg(&p, "r1", "vec0");
    assert_eq!(
        opt(arg, "bpffile"),
        Some("/var/lib/umlvnf/labs/t/bpf/link0-r1-eth0.bpf")
    );
    assert_eq!(opt(arg, "bpfflash"), Some("1"));
    assert_eq!(p.bpf_files.len(), 1);
    assert_eq!(p.bpf_files[0].expression.as_deref(), Some("icmp"));
    assert!(p.bpf_files[0].drop_outgoing);
}

#[test]
fn raw_guest_ends_never_receive_what_they_send() {
    // Unfiltered raw ends get a BPF file too (it drops the guest's own outgoing frames);
    // a hybrid end gets one only with a filter, and without the outgoing check.
    let p = plan_of(
        "name: t\nhost_access: {host_interfaces: true}\nnodes: {r1: {}, r2: {}}\nlinks:\n  - endpoints: [r1:eth0, r2:eth0]\n  - \
         endpoints: [r1:eth1, host:t1]\n    transport: hybrid\n  - endpoints: [r2:eth1, \
         host:t2]\n    transport: hybrid\n    filter: {r2:eth1: udp}\n",
    );
    let files: Vec<(String, Option<String>, bool)> = p
        .bpf_files
        .iter()
        .map(|b| (b.endpoint.clone(), b.expression.clone(), b.drop_outgoing))
        .collect();
    assert_eq!(
        files,
        [
            ("r1:eth0".to_string(), None, true),
            ("r2:eth0".to_string(), None, true),
            ("r2:eth1".to_string(), Some("udp".to_string()), false),
        ]
    );
    assert!(opt(vec_arg(&p, "r1", "vec0"), "bpffile").is_some());
    assert!(opt(vec_arg(&p, "r1", "vec1"), "bpffile").is_none());
    assert!(opt(vec_arg(&p, "r2", "vec1"), "bpffile").is_some());
}

#[test]
fn tap_host_ends_offload_only_between_host_ends() {
    let p = plan_of(
        "name: tr\nhost_access: {host_interfaces: true}\nnodes:\n  r1: {}\n  h1: {kind: host}\nlinks:\n  - endpoints: [r1:eth0, host:trtap0]\n    transport: wire\n    wire: {host_end: tap}\n  - endpoints: [h1:eth0, host:trv0]\n    transport: wire\n    wire: {host_end: tap}\n",
    );
    let taps: Vec<(Option<String>, String, bool)> = p
        .wires
        .iter()
        .flat_map(|w| w.ends.iter())
        .filter_map(|e| match &e.socket {
            WireSocket::Tap {
                netns,
                ifname,
                offload,
            } => Some((netns.clone(), ifname.clone(), *offload)),
            _ => None,
        })
        .collect();
    assert_eq!(
        taps,
        [
            (None, "trtap0".to_string(), false),
            (Some("umlvnf-tr-h1".to_string()), "eth0".to_string(), true),
            (None, "trv0".to_string(), true),
        ]
    );
}
