//! Root tests against the real kernel: namespaces, veth, bridges, taps, addresses, routes,
//! sysctls and commands in namespaces.

mod common;

use std::net::IpAddr;

use common::{appliance_kernel, require_root, thread_netns_id, uniq, LinkGuard, NetnsGuard};
use umlvnf_host::{
    command_in_netns, netns_add, netns_del, netns_exists, netns_list, run_in_netns, sysctl_get,
    sysctl_set, try_command_in_netns, HostError, IpNet, Rtnl,
};

fn net(s: &str) -> IpNet {
    s.parse().expect("test network literal")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address literal")
}

#[test]
fn root_netns_add_list_del() {
    require_root();
    let name = format!("umlvnf-t{}-ns", std::process::id());
    let _guard = NetnsGuard(name.clone());
    let before = thread_netns_id();

    netns_add(&name).expect("netns_add");
    assert_eq!(thread_netns_id(), before, "caller's namespace changed");
    assert!(netns_exists(&name));
    assert!(netns_list().unwrap().contains(&name));
    // It is a real, distinct namespace with only `lo`.
    let inner = run_in_netns(&name, thread_netns_id).unwrap();
    assert_ne!(inner, before);
    let links = Rtnl::in_netns(&name).unwrap().links().unwrap();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].name, "lo");

    let err = netns_add(&name).unwrap_err();
    assert!(matches!(err, HostError::NetnsExists(_)), "{err}");
    assert_eq!(
        err.to_string(),
        format!("network namespace `{name}` already exists")
    );

    netns_del(&name).expect("netns_del");
    assert!(!netns_exists(&name));
    assert!(!std::path::Path::new("/run/netns").join(&name).exists());
    assert!(!netns_list().unwrap().contains(&name));
    assert!(matches!(netns_del(&name), Err(HostError::NoSuchNetns(_))));
    assert!(matches!(
        Rtnl::in_netns(&name),
        Err(HostError::NoSuchNetns(_))
    ));
}

#[test]
fn root_veth_across_namespaces_ping_and_routes() {
    require_root();
    let pid = std::process::id();
    let (ns_a, ns_b) = (format!("umlvnf-t{pid}-a"), format!("umlvnf-t{pid}-b"));
    let _ga = NetnsGuard(ns_a.clone());
    let _gb = NetnsGuard(ns_b.clone());
    let (end_a, end_b) = (uniq("hva"), uniq("hvb"));
    let _gl = LinkGuard(end_a.clone());
    let before = thread_netns_id();

    netns_add(&ns_a).unwrap();
    netns_add(&ns_b).unwrap();
    let root = Rtnl::root().unwrap();
    root.veth_add(&end_a, &end_b, None).unwrap();
    root.link_set_mtu(&end_a, 1400).unwrap();
    root.link_move_to_netns(&end_a, &ns_a, Some("eth0"))
        .unwrap();
    root.link_move_to_netns(&end_b, &ns_b, Some("eth0"))
        .unwrap();
    assert!(!root.link_exists(&end_a).unwrap());
    assert!(!root.link_exists(&end_b).unwrap());

    let a = Rtnl::in_netns(&ns_a).unwrap();
    let b = Rtnl::in_netns(&ns_b).unwrap();
    assert_eq!(thread_netns_id(), before, "caller's namespace changed");
    for (r, v4, v6) in [
        (&a, "10.77.0.1/24", "fd77::1/64"),
        (&b, "10.77.0.2/24", "fd77::2/64"),
    ] {
        let eth0 = r.link("eth0").unwrap().expect("eth0 after move");
        assert_eq!(eth0.kind.as_deref(), Some("veth"));
        r.addr_add("eth0", net(v4)).unwrap();
        r.addr_add("eth0", net(v6)).unwrap();
        r.link_set_up("eth0").unwrap();
        r.link_set_up("lo").unwrap();
    }
    // The MTU survived the move; the address is listed.
    let eth0_a = a.link("eth0").unwrap().unwrap();
    assert_eq!(eth0_a.mtu, 1400);
    assert!(eth0_a.up);
    let addrs = a.addrs("eth0").unwrap();
    assert!(addrs.contains(&net("10.77.0.1/24")), "{addrs:?}");
    assert!(addrs.contains(&net("fd77::1/64")), "{addrs:?}");
    let dup = a.addr_add("eth0", net("10.77.0.1/24")).unwrap_err();
    assert_eq!(
        dup.to_string(),
        "address 10.77.0.1/24 is already assigned to interface `eth0`"
    );

    for target in ["10.77.0.2", "fd77::2"] {
        let out = command_in_netns(&ns_a, "busybox", ["ping", "-c", "1", "-W", "2", target])
            .output()
            .expect("run busybox ping");
        assert!(
            out.status.success(),
            "ping {target} from {ns_a} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stats = a.link("eth0").unwrap().unwrap().stats.expect("stats");
    assert!(stats.tx_packets >= 2 && stats.rx_packets >= 2, "{stats:?}");
    assert!(stats.tx_bytes > 0 && stats.rx_bytes > 0, "{stats:?}");

    // Routes through a gateway, v4 and v6, and the default routes.
    a.route_add(
        Some(net("10.99.0.0/16")),
        Some(ip("10.77.0.2")),
        None,
        Some(50),
    )
    .unwrap();
    a.route_add(None, Some(ip("10.77.0.2")), Some("eth0"), None)
        .unwrap();
    a.route_add(None, Some(ip("fd77::2")), None, Some(10))
        .unwrap();
    a.route_add(Some(net("10.98.0.0/24")), None, Some("eth0"), None)
        .unwrap();
    let routes = a.routes().unwrap();
    let find = |dst: &str| routes.iter().find(|r| r.dst == net(dst)).cloned();
    let r = find("10.99.0.0/16").expect("route 10.99.0.0/16");
    assert_eq!(r.via, Some(ip("10.77.0.2")));
    assert_eq!(r.dev.as_deref(), Some("eth0"));
    assert_eq!(r.metric, Some(50));
    assert_eq!(
        find("0.0.0.0/0").expect("v4 default").via,
        Some(ip("10.77.0.2"))
    );
    assert_eq!(find("::/0").expect("v6 default").via, Some(ip("fd77::2")));
    let r = find("10.98.0.0/24").expect("device route");
    assert_eq!((r.via, r.dev.as_deref()), (None, Some("eth0")));
    // The kernel's own view, read from inside the namespace.
    let proc_route = run_in_netns(&ns_a, || {
        std::fs::read_to_string("/proc/thread-self/net/route").unwrap()
    })
    .unwrap();
    // 10.99.0.0 is 0x0000630A in /proc/net/route's little-endian hex; gateway 10.77.0.2.
    assert!(
        proc_route
            .lines()
            .any(|l| l.contains("0000630A") && l.contains("02004D0A")),
        "{proc_route}"
    );
    // Errors name the route.
    let err = a
        .route_add(
            Some(net("10.99.0.0/16")),
            Some(ip("10.77.0.2")),
            None,
            Some(50),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "route 10.99.0.0/16 via 10.77.0.2 metric 50 already exists"
    );
    let err = a
        .route_add(Some(net("10.97.0.0/16")), Some(ip("10.50.0.1")), None, None)
        .unwrap_err();
    assert!(matches!(err, HostError::GatewayUnreachable(_)), "{err}");
    let err = a
        .route_add(Some(net("10.97.0.1/16")), Some(ip("10.77.0.2")), None, None)
        .unwrap_err();
    assert!(matches!(err, HostError::InvalidRoute(_)), "{err}");
    let err = a
        .route_add(Some(net("10.97.0.0/16")), Some(ip("fd77::2")), None, None)
        .unwrap_err();
    assert!(matches!(err, HostError::InvalidRoute(_)), "{err}");
    assert_eq!(thread_netns_id(), before, "caller's namespace changed");
}

#[test]
fn root_alias_found_and_link_del_removes() {
    require_root();
    let alias = format!("umlvnf:test-{}", std::process::id());
    let (v0, v1, br) = (uniq("hla"), uniq("hlb"), uniq("hlbr"));
    let _g0 = LinkGuard(v0.clone());
    let _g1 = LinkGuard(br.clone());
    let root = Rtnl::root().unwrap();

    root.veth_add(&v0, &v1, Some(&alias)).unwrap();
    root.bridge_add(&br, Some(&alias)).unwrap();
    let mut found = root.links_with_alias(&alias).unwrap();
    found.sort();
    let mut want = vec![v0.clone(), v1.clone(), br.clone()];
    want.sort();
    assert_eq!(found, want);
    let info = root.link(&br).unwrap().unwrap();
    assert_eq!(info.kind.as_deref(), Some("bridge"));
    assert_eq!(info.alias.as_deref(), Some(alias.as_str()));

    root.link_set_mac(&v0, [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30])
        .unwrap();
    assert_eq!(
        root.link(&v0).unwrap().unwrap().mac,
        Some([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30])
    );
    root.link_set_up(&v0).unwrap();
    assert!(root.link(&v0).unwrap().unwrap().up);
    root.link_set_down(&v0).unwrap();
    assert!(!root.link(&v0).unwrap().unwrap().up);
    root.link_set_alias(&v0, "").unwrap();
    assert_eq!(root.link(&v0).unwrap().unwrap().alias, None);
    assert!(matches!(
        root.link_set_mtu(&v0, 10),
        Err(HostError::InvalidMtu { .. })
    ));

    for name in root.links_with_alias(&alias).unwrap() {
        // Deleting one veth end removes its peer too.
        if root.link_exists(&name).unwrap() {
            root.link_del(&name).unwrap();
        }
    }
    assert!(root.links_with_alias(&alias).unwrap().is_empty());
    for name in [&v0, &v1, &br] {
        assert!(!root.link_exists(name).unwrap(), "{name} remains");
    }
    let err = root.link_del(&v0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("interface `{v0}` does not exist in the host namespace")
    );
}

#[test]
fn root_tap_persistent_in_bridge_then_deleted() {
    require_root();
    let pid = std::process::id();
    let ns = format!("umlvnf-t{pid}-tap");
    let _gn = NetnsGuard(ns.clone());
    let (tap, br) = (uniq("hta"), uniq("htbr"));
    let _gt = LinkGuard(tap.clone());
    let _gb = LinkGuard(br.clone());
    let alias = format!("umlvnf:tap-{pid}");
    let root = Rtnl::root().unwrap();

    umlvnf_host::tap_add_persistent(&tap, Some(&alias)).unwrap();
    let info = root
        .link(&tap)
        .unwrap()
        .expect("tap exists after its fd closed");
    assert_eq!(info.kind.as_deref(), Some("tun"));
    assert_eq!(info.alias.as_deref(), Some(alias.as_str()));
    let err = root.tap_add_persistent(&tap, None).unwrap_err();
    assert_eq!(err.to_string(), format!("interface `{tap}` already exists"));

    root.bridge_add(&br, None).unwrap();
    root.link_set_master(&tap, &br).unwrap();
    root.link_set_up(&tap).unwrap();
    root.link_set_up(&br).unwrap();
    let br_index = root.link(&br).unwrap().unwrap().index;
    let info = root.link(&tap).unwrap().unwrap();
    assert_eq!(info.master, Some(br_index));
    assert!(info.up);
    root.link_set_nomaster(&tap).unwrap();
    assert_eq!(root.link(&tap).unwrap().unwrap().master, None);

    root.link_del(&tap).unwrap();
    assert!(!root.link_exists(&tap).unwrap());
    root.link_del(&br).unwrap();
    assert!(!root.link_exists(&br).unwrap());

    // A tap made through a namespace's socket is created in that namespace.
    netns_add(&ns).unwrap();
    let inner = Rtnl::in_netns(&ns).unwrap();
    inner.tap_add_persistent("tap0", Some(&alias)).unwrap();
    assert!(inner.link_exists("tap0").unwrap());
    assert_eq!(inner.links_with_alias(&alias).unwrap(), vec!["tap0"]);
    assert!(root.links_with_alias(&alias).unwrap().is_empty());
    inner.link_del("tap0").unwrap();
    assert!(!inner.link_exists("tap0").unwrap());
}

#[test]
fn root_sysctl_only_changes_its_namespace() {
    require_root();
    let ns = format!("umlvnf-t{}-sys", std::process::id());
    let _g = NetnsGuard(ns.clone());
    netns_add(&ns).unwrap();
    let host_before = sysctl_get(None, "net.ipv4.ip_forward").unwrap();

    assert_eq!(sysctl_get(Some(&ns), "net.ipv4.ip_forward").unwrap(), "0");
    sysctl_set(Some(&ns), "net.ipv4.ip_forward", "1").unwrap();
    assert_eq!(sysctl_get(Some(&ns), "net.ipv4.ip_forward").unwrap(), "1");
    assert_eq!(
        sysctl_get(None, "net.ipv4.ip_forward").unwrap(),
        host_before,
        "the host's value changed"
    );
    let err = sysctl_set(Some(&ns), "net.ipv4..ip_forward", "1").unwrap_err();
    assert!(matches!(err, HostError::InvalidSysctlKey { .. }), "{err}");
    let err = sysctl_set(Some(&ns), "net.ipv4.no_such_key", "1").unwrap_err();
    assert!(err.to_string().contains("net.ipv4.no_such_key"), "{err}");
}

#[test]
fn root_command_in_netns_sees_the_namespace() {
    require_root();
    let pid = std::process::id();
    let ns = format!("umlvnf-t{pid}-cmd");
    let _g = NetnsGuard(ns.clone());
    netns_add(&ns).unwrap();
    let r = Rtnl::in_netns(&ns).unwrap();
    r.bridge_add("brx", None).unwrap();

    // /proc/self/net and /sys/class/net both show the namespace, not the host.
    let out = command_in_netns(
        &ns,
        "busybox",
        ["sh", "-c", "cat /proc/self/net/dev; ls /sys/class/net"],
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("brx").count(), 2, "{text}");
    assert!(!text.contains("eth0"), "{text}");
    let missing = format!("umlvnf-t{pid}-none");
    assert!(matches!(
        try_command_in_netns(&missing, "true", [""; 0]),
        Err(HostError::NoSuchNetns(_))
    ));
    let err = command_in_netns(&missing, "true", [""; 0])
        .status()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    // The exit status of the program comes back.
    let status = command_in_netns(&ns, "busybox", ["sh", "-c", "exit 7"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));
}

#[test]
fn root_errors_name_the_object() {
    require_root();
    let pid = std::process::id();
    let (v0, v1, v2) = (uniq("hea"), uniq("heb"), uniq("hec"));
    let _g0 = LinkGuard(v0.clone());
    let _g2 = LinkGuard(v2.clone());
    let ns = format!("umlvnf-t{pid}-err");
    let _gn = NetnsGuard(ns.clone());
    let root = Rtnl::root().unwrap();

    root.veth_add(&v0, &v1, None).unwrap();
    let err = root.veth_add(&v0, &v2, None).unwrap_err();
    assert!(matches!(err, HostError::LinkExists(_)), "{err:?}");
    assert_eq!(err.to_string(), format!("interface `{v0}` already exists"));
    let err = root.veth_add(&v2, &v1, None).unwrap_err();
    assert_eq!(err.to_string(), format!("interface `{v1}` already exists"));
    assert!(!root.link_exists(&v2).unwrap());
    let err = root.bridge_add(&v0, None).unwrap_err();
    assert_eq!(err.to_string(), format!("interface `{v0}` already exists"));

    let err = root.veth_add("bad name", &v2, None).unwrap_err();
    assert!(
        matches!(err, HostError::InvalidInterfaceName { .. }),
        "{err}"
    );
    let err = root.link_set_up("hnosuch0").unwrap_err();
    assert_eq!(
        err.to_string(),
        "interface `hnosuch0` does not exist in the host namespace"
    );
    let err = root.link_move_to_netns(&v0, &ns, None).unwrap_err();
    assert!(matches!(err, HostError::NoSuchNetns(_)), "{err}");

    // Moving onto a taken name in the target namespace fails and leaves the link in place.
    netns_add(&ns).unwrap();
    Rtnl::in_netns(&ns)
        .unwrap()
        .bridge_add("eth0", None)
        .unwrap();
    let err = root.link_move_to_netns(&v0, &ns, Some("eth0")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("interface `eth0` already exists in network namespace `{ns}`")
    );
    assert!(
        root.link_exists(&v0).unwrap(),
        "link left the host on error"
    );
    root.link_del(&v0).unwrap();
}

/// Kills and reaps a child process when dropped.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes a directory tree when dropped.
struct DirGuard(std::path::PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn root_uml_guest_attaches_to_persistent_tap() {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    require_root();
    let pid = std::process::id();
    let ns = format!("umlvnf-t{pid}-uml");
    let _gn = NetnsGuard(ns.clone());
    let dir = std::env::temp_dir().join(format!("umlvnf-host-test-{pid}-uml"));
    let _gd = DirGuard(dir.clone());
    std::fs::create_dir_all(&dir).unwrap();
    let init = dir.join("init.sh");
    std::fs::write(
        &init,
        "#!/bin/busybox sh\n\
         B=/bin/busybox\n\
         $B ip link set vec0 up\n\
         $B ip addr add 10.88.0.2/24 dev vec0\n\
         if $B ping -c 2 -W 3 10.88.0.1 >/dev/null 2>&1; then echo UMLTAP-PING-OK; \
         else echo UMLTAP-PING-FAIL; fi\n\
         $B halt -f\n",
    )
    .unwrap();
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();

    netns_add(&ns).unwrap();
    let r = Rtnl::in_netns(&ns).unwrap();
    r.tap_add_persistent("tap0", Some("umlvnf:uml-test"))
        .unwrap();
    r.addr_add("tap0", net("10.88.0.1/24")).unwrap();
    r.link_set_up("tap0").unwrap();
    r.link_set_up("lo").unwrap();

    // The guest runs inside the namespace (a tap is found by name in the opener's namespace),
    // with the host's root read-only over hostfs and the init script above.
    let kernel = appliance_kernel().binary();
    let mut cmd = command_in_netns(
        &ns,
        &kernel,
        [
            "mem=64M".to_string(),
            "root=/dev/root".to_string(),
            "rootfstype=hostfs".to_string(),
            "rootflags=/".to_string(),
            "hostfs=/".to_string(),
            format!("init={}", init.display()),
            "con=null".to_string(),
            "con0=fd:0,fd:1".to_string(),
            "noreboot".to_string(),
            "vec0:transport=tap,ifname=tap0".to_string(),
            format!("umid=hosttest{pid}"),
            format!("uml_dir={}", dir.display()),
        ],
    );
    // Kernel messages (a panic among them) go to UML's stderr, kept for the failure message.
    let kernel_log = dir.join("kernel.log");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&kernel_log).unwrap())
        .env("TMPDIR", &dir)
        .process_group(0);
    let mut child = ChildGuard(cmd.spawn().expect("start the appliance kernel"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the UML guest did not halt in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut console = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut console)
        .unwrap();
    assert!(
        console.contains("UMLTAP-PING-OK"),
        "guest console:\n{console}\nkernel log:\n{}",
        std::fs::read_to_string(&kernel_log).unwrap_or_default()
    );

    let stats = r.link("tap0").unwrap().unwrap().stats.unwrap();
    assert!(stats.rx_packets >= 2 && stats.tx_packets >= 2, "{stats:?}");
    // The tap outlives the guest until deleted.
    r.link_del("tap0").unwrap();
    assert!(!r.link_exists("tap0").unwrap());
}

#[test]
fn root_links_dump_spans_many_datagrams() {
    require_root();
    let ns = format!("umlvnf-t{}-many", std::process::id());
    let _g = NetnsGuard(ns.clone());
    netns_add(&ns).unwrap();
    let r = Rtnl::in_netns(&ns).unwrap();
    for i in 0..150 {
        r.veth_add(&format!("m{i}a"), &format!("m{i}b"), Some("umlvnf:many"))
            .unwrap();
    }
    // About 300 link messages of over 1 KiB each: the dump needs many datagrams.
    let links = r.links().unwrap();
    assert_eq!(links.len(), 301);
    assert_eq!(r.links_with_alias("umlvnf:many").unwrap().len(), 300);
    assert!(links.windows(2).all(|w| w[0].index < w[1].index));
}

#[test]
fn rtnl_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Rtnl>();
}
