//! Short real benches (structure and sanity only, never speed): veth and wire scenarios, a
//! UML guest on the quickstart shape, the howto's command line on the appliance kernel and on
//! Debian's, two guests joined by a wire, L2TPv3, a Linux bridge and vde_switch, the zero-loss search,
//! trafgen, the JSON schema.

use std::path::PathBuf;
use std::time::Duration;

use umlvnf_bench::howto_guest::{HowtoKernel, DEBIAN_KERNEL};
use umlvnf_bench::{
    run, Backend, BenchOptions, FrameSize, GuestTransport, PairLink, Report, Scenario, Trial,
    REPORT_SCHEMA,
};

/// The root tests run one at a time: they share the CPUs, and each checks that it left no
/// namespace of this process behind.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root: run `make test` as root");
    }
}

/// The umlvnf binary: `UMLVNF_BIN`, else the workspace's debug build.
fn umlvnf_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("UMLVNF_BIN") {
        return p.into();
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/umlvnf");
    assert!(
        p.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (make test does)",
        p.display()
    );
    p
}

/// Namespaces this process's bench made and left behind.
fn leftover_namespaces() -> Vec<String> {
    let prefix = format!("umlvnf-bench-{}", std::process::id() % 100_000);
    umlvnf_host::netns_list()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

fn validate(report: &Report) {
    let schema: serde_json::Value = serde_json::from_str(REPORT_SCHEMA).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let instance: serde_json::Value = serde_json::from_str(&report.to_json()).expect("report JSON");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match the schema: {errors:#?}"
    );
}

/// Every trial: delivered <= sent, sent = delivered + lost, sane ratios.
fn check_sanity(report: &Report) {
    for s in &report.scenarios {
        assert!(s.error.is_none(), "{} failed: {:?}", s.name, s.error);
        for p in &s.points {
            assert!(!p.trials.is_empty());
            for t in &p.trials {
                assert!(t.sent > 0, "{} {}: nothing sent", s.name, p.frame_size);
                assert!(
                    t.delivered > 0,
                    "{} {}: nothing delivered",
                    s.name,
                    p.frame_size
                );
                assert!(t.delivered <= t.sent, "{} {}: {t:?}", s.name, p.frame_size);
                assert_eq!(t.sent, t.delivered + t.lost, "{} {}", s.name, p.frame_size);
                assert!((0.0..=1.0).contains(&t.loss_ratio));
                assert!(t.delivered_pps <= t.offered_pps * 1.000_001);
            }
            assert!(p.pps.min <= p.pps.median && p.pps.median <= p.pps.max);
        }
    }
}

/// Options for a short run of `scenarios`: 64 bytes, one 1 s trial after 200 ms of warm-up,
/// no progress lines.
fn short(scenarios: Vec<Scenario>) -> BenchOptions {
    let mut o = BenchOptions::new(umlvnf_bin());
    o.scenarios = scenarios;
    o.frame_sizes = vec![64];
    o.duration = Duration::from_secs(1);
    o.reps = 1;
    o.warmup = Duration::from_millis(200);
    o.progress = false;
    o
}

#[test]
fn root_short_bench_veth_wire_and_guest() {
    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = short(vec![
        Scenario::Veth,
        Scenario::Wire,
        Scenario::WireTap,
        Scenario::Guest(GuestTransport::Raw),
    ]);
    o.frame_sizes = vec![64, 512];
    o.output_json = Some(dir.path().join("report.json"));
    o.output_svg = Some(dir.path().join("plot.svg"));
    let report = run(&o).expect("bench runs");
    assert_eq!(leftover_namespaces(), Vec::<String>::new());
    print!("{}", report.table());
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["veth", "wire", "wire-tap", "guest-raw"]);
    for s in &report.scenarios {
        let sizes: Vec<FrameSize> = s.points.iter().map(|p| p.frame_size).collect();
        assert_eq!(
            sizes,
            [FrameSize::Fixed(64), FrameSize::Fixed(512)],
            "{}",
            s.name
        );
    }
    check_sanity(&report);
    // Timestamped frames through a real path have a latency.
    let veth64 = &report.scenarios[0].points[0];
    let lat = veth64.latency.expect("latency measured");
    assert!(lat.p50_ns <= lat.p90_ns && lat.p90_ns <= lat.p99_ns && lat.p99_ns <= lat.max_ns);
    assert!(lat.samples > 0 && lat.max_ns > 0);
    // Files: the JSON reads back and validates; the SVG has one line per scenario.
    validate(&report);
    let back = Report::read(o.output_json.as_ref().unwrap()).expect("json reads back");
    assert_eq!(back.scenarios.len(), report.scenarios.len());
    for (a, b) in back.scenarios.iter().zip(&report.scenarios) {
        assert_eq!((&a.name, a.points.len()), (&b.name, b.points.len()));
        for (p, q) in a.points.iter().zip(&b.points) {
            let counts = |t: &[Trial]| -> Vec<(u64, u64, u64)> {
                t.iter().map(|t| (t.sent, t.delivered, t.lost)).collect()
            };
            assert_eq!(counts(&p.trials), counts(&q.trials));
            assert!((p.pps.median - q.pps.median).abs() <= 1e-9 * q.pps.median.max(1.0));
        }
    }
    let svg = std::fs::read_to_string(o.output_svg.as_ref().unwrap()).expect("svg written");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 4);
    // Comparing a report with itself: every point, no change.
    let cmp = report.compare(&back);
    assert_eq!(cmp.len(), 8);
    assert!(
        cmp.iter().all(|c| c.change.is_some_and(|x| x.abs() < 1e-9)),
        "{cmp:?}"
    );
    assert!(report.table().contains("guest-raw"));
}

#[test]
fn root_zero_loss_search_and_trafgen_on_veth() {
    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    // An old report to compare against.
    let old = dir.path().join("old.json");
    let mut o = BenchOptions::new(umlvnf_bin());
    o.scenarios = vec![Scenario::Veth];
    o.frame_sizes = vec![128];
    o.imix = true;
    o.duration = Duration::from_millis(400);
    o.reps = 2;
    o.warmup = Duration::ZERO;
    o.rate = Some(20_000);
    o.zero_loss = Some(0.001);
    o.trafgen = true;
    o.output_json = Some(old.clone());
    o.progress = false;
    let report = run(&o).expect("bench runs");
    assert_eq!(leftover_namespaces(), Vec::<String>::new());
    print!("{}", report.table());
    check_sanity(&report);
    validate(&report);
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["veth", "trafgen-veth"]);
    let veth = &report.scenarios[0];
    assert_eq!(veth.points.len(), 2);
    for p in &veth.points {
        assert_eq!(p.trials.len(), 2);
        // Paced to 20 kpps: the generator does not run far over the rate.
        assert!(p.offered_pps.max < 20_000.0 * 1.1, "{:?}", p.offered_pps);
        let z = p.zero_loss.as_ref().expect("zero-loss search ran");
        assert!(!z.probes.is_empty() && z.probes.len() <= 7);
        assert_eq!(z.probes[0].target_pps, 20_000);
        for pr in &z.probes {
            assert_eq!(pr.pass, pr.loss_ratio <= 0.001);
        }
        let best = z.probes.iter().filter(|p| p.pass).map(|p| p.offered_pps);
        assert_eq!(z.rate_pps, best.fold(0.0, f64::max));
    }
    let tg = &report.scenarios[1];
    assert_eq!(tg.generator, "trafgen");
    assert_eq!(tg.points.len(), 2);
    for p in &tg.points {
        // trafgen frames carry no timestamp.
        assert!(p.latency.is_none());
        assert!(p.zero_loss.is_none());
    }
    // Compare the next run with the first.
    let mut again = o.clone();
    again.zero_loss = None;
    again.trafgen = false;
    again.imix = false;
    again.output_json = None;
    again.compare = Some(old);
    let second = run(&again).expect("second bench runs");
    assert_eq!(second.comparison.len(), 1);
    let c = &second.comparison[0];
    assert_eq!(
        (c.scenario.as_str(), c.frame_size),
        ("veth", FrameSize::Fixed(128))
    );
    assert!(c.change.is_some());
    assert!(second.table().contains("compared"));
}

/// State directories of labs this process's bench deployed and left behind.
fn leftover_labs() -> Vec<String> {
    let prefix = format!("bn{:x}-", std::process::id() % 0x100_0000);
    std::fs::read_dir(umlvnf_bench::lab::labs_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Namespaces of this process's generated labs (`umlvnf-<lab>-<node>`) left behind.
fn leftover_lab_namespaces() -> Vec<String> {
    let prefix = format!("umlvnf-bn{:x}-", std::process::id() % 0x100_0000);
    umlvnf_host::netns_list()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// `--topology` with the three-router chain: `guest-topology` deploys it as it is, and the
/// transport scenarios carry every guest link by theirs (here: wires, which need no
/// privileges, and GRE, UML to UML between the routers and ended by umlvnf for the hosts).
#[test]
fn root_user_topology_under_each_transport() {
    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // The example under a lab name of this test's own, so that no other lab named `chain`
    // can be in the way.
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../topologies/chain.yaml");
    let text = std::fs::read_to_string(example).expect("chain.yaml");
    let lab = format!("ch{}", std::process::id() % 100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = dir.path().join("chain.yaml");
    std::fs::write(
        &chain,
        text.replace("name: chain\n", &format!("name: {lab}\n")),
    )
    .expect("write the topology");
    let mut o = short(vec![
        Scenario::GuestTopology,
        Scenario::Guest(GuestTransport::Wire),
        Scenario::Guest(GuestTransport::Gre),
    ]);
    o.topology = Some(chain);
    let report = run(&o).expect("bench runs");
    print!("{}", report.table());
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["guest:chain", "guest-wire:chain", "guest-gre:chain"]
    );
    assert!(
        report.scenarios[1]
            .description
            .contains("every guest link as wire"),
        "{}",
        report.scenarios[1].description
    );
    check_sanity(&report);
    validate(&report);
    assert_eq!(leftover_labs(), Vec::<String>::new());
    assert_eq!(leftover_lab_namespaces(), Vec::<String>::new());
    // The file's own lab is down again too.
    assert!(!umlvnf_bench::lab::labs_dir().join(&lab).exists());
}

#[test]
fn root_guest_pairs() {
    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = short(Scenario::parse_csv("pairs").expect("pairs is a scenario group"));
    o.warmup = Duration::from_millis(500);
    o.output_json = Some(dir.path().join("report.json"));
    let report = run(&o).expect("bench runs");
    print!("{}", report.table());
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["pair-wire", "pair-l2tpv3", "pair-bridge", "pair-vde"]
    );
    check_sanity(&report);
    for s in &report.scenarios {
        assert_eq!(s.points.len(), 1, "{}", s.name);
        assert!(s.points[0].pps.median > 0.0, "{} delivered nothing", s.name);
        assert!(
            s.placement.contains("r1 on CPU 0, r2 on CPU 1"),
            "{}",
            s.placement
        );
    }
    let gp = report.guest_pairs.as_ref().expect("the guest-pair block");
    assert_eq!(gp.frame_size, FrameSize::Fixed(64));
    for r in [gp.wire_over_l2tpv3, gp.wire_over_bridge, gp.wire_over_vde] {
        let r = r.expect("both ratios");
        assert!(r.is_finite() && r > 0.0, "{gp:?}");
    }
    assert!(gp.targets_met.is_some());
    let table = report.table();
    assert!(table.contains("links between two guests"), "{table}");
    assert!(table.contains("wire / direct L2TPv3 = "), "{table}");
    assert!(table.contains("wire / Linux bridge = "), "{table}");
    assert!(table.contains("wire / vde_switch = "), "{table}");
    validate(&report);
    let back = Report::read(o.output_json.as_ref().unwrap()).expect("json reads back");
    let back_gp = back.guest_pairs.as_ref().expect("the block reads back");
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        (a, b) => a == b,
    };
    assert!(close(Some(back_gp.wire_pps), Some(gp.wire_pps)));
    assert!(close(back_gp.wire_over_l2tpv3, gp.wire_over_l2tpv3));
    assert!(close(back_gp.wire_over_bridge, gp.wire_over_bridge));
    assert!(close(back_gp.wire_over_vde, gp.wire_over_vde));
    assert_eq!(back_gp.targets_met, gp.targets_met);
    // Nothing is left: labs, namespaces, bridges, switches and their plugs, temporary
    // directories.
    assert_eq!(leftover_labs(), Vec::<String>::new());
    assert_eq!(leftover_lab_namespaces(), Vec::<String>::new());
    assert_eq!(leftover_namespaces(), Vec::<String>::new());
    assert_eq!(leftover_bridges(), Vec::<String>::new());
    assert_eq!(
        umlvnf_bench::pairs::running_vde_switches("umlvnf-bench-"),
        Vec::<i32>::new()
    );
    assert_eq!(
        processes_mentioning(&format!(
            "vde://{}/umlvnf-bench-bn{:x}-",
            std::env::temp_dir().display(),
            std::process::id() % 0x100_0000
        )),
        Vec::<String>::new()
    );
    let tmp_left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.starts_with(&format!(
                "umlvnf-bench-bn{:x}-",
                std::process::id() % 0x100_0000
            ))
        })
        .map(|e| e.path())
        .collect();
    assert!(tmp_left.is_empty(), "{tmp_left:?}");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
}

/// Host bridges of this process's `pair-bridge` labs left behind.
fn leftover_bridges() -> Vec<String> {
    let prefix =
        umlvnf_bench::pairs::bridge_name(&format!("bn{:x}-", std::process::id() % 0x100_0000));
    std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// `pair-bridge`'s middle link is a Linux bridge on the host whose only ports are the two
/// routers' taps, and frames cross it (h1 reaches r2's side); `down` removes it.
#[test]
fn root_pair_bridge_is_a_linux_bridge_of_two_taps() {
    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let pair = umlvnf_bench::pairs::PairLab::up(&umlvnf_bin(), PairLink::Bridge)
        .expect("the bridge pair deploys");
    let bridge = pair.bridge().expect("a bridge name").to_string();
    let sys = PathBuf::from("/sys/class/net").join(&bridge);
    assert!(
        sys.join("bridge").is_dir(),
        "{bridge} is not a Linux bridge"
    );
    let mut ports: Vec<String> = std::fs::read_dir(sys.join("brif"))
        .expect("bridge ports")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ports.sort();
    assert_eq!(ports.len(), 2, "{ports:?}");
    for p in &ports {
        // tun_flags exists only on tun/tap devices.
        let flags = std::fs::read_to_string(format!("/sys/class/net/{p}/tun_flags"))
            .unwrap_or_else(|e| panic!("port {p} is not a tap: {e}"));
        // IFF_TAP = 0x0002.
        let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).expect("hex");
        assert_ne!(flags & 0x2, 0, "port {p} is a tun, not a tap");
    }
    // r1 routes to h2 over the bridge: a short trial delivers frames end to end.
    let path = pair.path().expect("path h1 -> h2");
    let t = umlvnf_bench::trial::measure_with(
        &path,
        FrameSize::Fixed(64),
        Some(2_000),
        Duration::from_millis(500),
        Backend::Mmsg,
    )
    .expect("a trial runs");
    assert!(t.delivered > 0, "nothing crossed the bridge: {t:?}");
    drop(pair);
    assert!(!sys.exists(), "{bridge} is still there after down");
    assert_eq!(leftover_labs(), Vec::<String>::new());
}

/// The switch guard kills the daemon and removes its files, also when the start fails.
#[test]
fn root_vde_switch_guard_leaves_nothing() {
    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::Builder::new()
        .prefix("umlvnf-bench-vde")
        .tempdir()
        .expect("tempdir");
    let key = dir.path().to_string_lossy().to_string();
    let sw = umlvnf_bench::pairs::VdeSwitch::start(dir.path()).expect("vde_switch starts");
    let pid = sw.pid().expect("pid from its pid file");
    assert_eq!(umlvnf_bench::pairs::running_vde_switches(&key), vec![pid]);
    assert!(sw.socket().join("ctl").exists());
    drop(sw);
    assert_eq!(
        umlvnf_bench::pairs::running_vde_switches(&key),
        Vec::<i32>::new()
    );
    assert!(!dir.path().join("vde").exists() && !dir.path().join("vde.pid").exists());
    // vde_switch refuses to start (its socket path is a file): the error says why, nothing
    // is left running and the file is not touched.
    std::fs::write(dir.path().join("vde"), "not a directory").expect("write");
    let e = umlvnf_bench::pairs::VdeSwitch::start(dir.path()).unwrap_err();
    assert!(e.to_string().contains("Not a directory"), "{e}");
    assert!(dir.path().join("vde").is_file());
    assert_eq!(
        umlvnf_bench::pairs::running_vde_switches(&key),
        Vec::<i32>::new()
    );
}

#[test]
fn bad_options_are_refused_before_anything_runs() {
    let mut o = BenchOptions::new(PathBuf::from("/nonexistent/umlvnf"));
    o.frame_sizes = vec![63];
    let e = run(&o).unwrap_err().to_string();
    assert!(e.contains("64 to 1518"), "{e}");
    o.frame_sizes = vec![64];
    o.scenarios = vec![Scenario::Guest(GuestTransport::Raw)];
    let e = run(&o).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/umlvnf"), "{e}");
    o.scenarios = vec![Scenario::GuestTopology];
    let e = run(&o).unwrap_err().to_string();
    assert!(e.contains("give one with --topology FILE"), "{e}");
    o.topology = Some(PathBuf::from("/nonexistent/lab.yaml"));
    let e = run(&o).unwrap_err().to_string();
    assert!(
        e.contains("the --topology file does not load") && e.contains("/nonexistent/lab.yaml"),
        "{e}"
    );
    o.topology = None;
    o.scenarios = vec![Scenario::Veth];
    o.compare = Some(PathBuf::from("/nonexistent/old.json"));
    let e = run(&o).unwrap_err().to_string();
    assert!(e.contains("cannot be read"), "{e}");
}

/// UML processes of this test process's plain guests (their `umid=bp<pid>-N`).
fn leftover_plain_guests() -> Vec<String> {
    let tag = format!("umid=bp{}-", std::process::id() % 100_000);
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(&tag) {
            out.push(text);
        }
    }
    out
}

#[test]
fn root_plain_guest_runs_the_howto_command_line() {
    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let o = short(vec![Scenario::GuestPlain]);
    let report = run(&o).expect("bench runs");
    print!("{}", report.table());
    check_sanity(&report);
    validate(&report);
    let s = &report.scenarios[0];
    assert_eq!(s.name, "guest-plain");
    assert!(
        s.description.contains("ifname=p0,depth=128,gro=1"),
        "{}",
        s.description
    );
    assert!(s.placement.contains("guest not pinned"), "{}", s.placement);
    // It ran the appliance kernel's smp flavour, the one the store holds for this recipe.
    let appliance = appliance_kernel();
    assert_eq!(s.kernel.as_deref(), Some(appliance.as_str()));
    // The process that ran is the howto's command line, word for word, and no more.
    let kernel = HowtoKernel::Appliance
        .resolve(&umlvnf_bin(), true)
        .expect("appliance kernel");
    assert_eq!(kernel.path.display().to_string(), appliance);
    let (guest, path) = umlvnf_bench::howto_guest::start(&umlvnf_bin(), kernel, None, None)
        .expect("plain guest boots");
    let pid = guest.pid().expect("running");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    let argv: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(argv.join(" "), guest.command_line);
    assert_eq!(argv[0], appliance);
    assert!(
        argv.iter()
            .any(|a| a == "vec0:transport=raw,ifname=p0,depth=128,gro=1"),
        "{argv:?}"
    );
    assert!(
        !argv
            .iter()
            .any(|a| a.contains("bpffile") || a.contains("mconsole")),
        "{argv:?}"
    );
    assert_ne!(path.flow.dst_mac, [0; 6], "the guest answered ARP");
    drop(guest);
    // The guest, its namespaces and its directory are gone.
    assert_eq!(leftover_plain_guests(), Vec::<String>::new());
    assert_eq!(leftover_namespaces(), Vec::<String>::new());
    let dirs: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .expect("read the temp dir")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("umlvnf-bench-bp{}-", std::process::id() % 100_000))
        })
        .collect();
    assert!(dirs.is_empty(), "{dirs:?}");
}

/// The appliance kernel's smp build (what `kind: uml` nodes boot by default), as the umlvnf
/// binary under test names it.
fn appliance_kernel() -> String {
    let out = std::process::Command::new(umlvnf_bin())
        .args(["kernel", "path", "--flavour", "smp"])
        .output()
        .expect("run umlvnf kernel path");
    assert!(
        out.status.success(),
        "umlvnf kernel path --flavour smp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        path.ends_with("/linux") && std::path::Path::new(&path).is_file(),
        "{path}"
    );
    path
}

/// `tuning`: guest-plain and guest-tuned boot the same kernel (the appliance kernel), and
/// guest-debian the same command line as guest-plain on Debian's kernel, or is skipped with
/// the reason where that kernel cannot boot.
#[test]
fn root_tuning_compares_on_one_kernel_and_debian_apart() {
    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let o = short(Scenario::parse_csv("tuning").expect("tuning is a group"));
    let report = run(&o).expect("bench runs");
    print!("{}", report.table());
    check_sanity(&report);
    validate(&report);
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["guest-plain", "guest-tuned", "guest-debian"]);
    let appliance = appliance_kernel();
    for s in &report.scenarios[..2] {
        assert_eq!(s.kernel.as_deref(), Some(appliance.as_str()), "{}", s.name);
        assert_eq!(s.points.len(), 1, "{}", s.name);
    }
    let debian = &report.scenarios[2];
    let tuning = report.tuning.as_ref().expect("the tuning block");
    assert!(
        tuning.tuned_means.contains("appliance kernel"),
        "{tuning:?}"
    );
    match HowtoKernel::Debian.refusal(umlvnf_kernel::HostCpu::detect()) {
        Some(why) => {
            assert_eq!(debian.skipped.as_deref(), Some(why.as_str()));
            assert!(debian.points.is_empty() && debian.kernel.is_none());
            assert_eq!(tuning.debian_pps, None);
        }
        None => {
            assert_eq!(debian.skipped, None);
            assert_eq!(debian.kernel.as_deref(), Some(DEBIAN_KERNEL));
            assert_eq!(debian.points.len(), 1);
            assert_eq!(tuning.debian_pps, Some(debian.points[0].pps.median));
        }
    }
    assert!(!report.has_errors());
    assert_eq!(leftover_plain_guests(), Vec::<String>::new());
    assert_eq!(leftover_namespaces(), Vec::<String>::new());
    assert_eq!(leftover_labs(), Vec::<String>::new());
}

/// On a host whose CPU has AMX, guest-debian is skipped with the reason before anything is
/// set up; the run goes on and is not failed by it.
#[test]
fn root_guest_debian_is_skipped_where_its_kernel_cannot_boot() {
    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let facts = umlvnf_kernel::KernelFacts::read(std::path::Path::new(DEBIAN_KERNEL))
        .expect("Debian's UML kernel is installed (deploy/install-deps.sh)");
    assert!(
        facts.version.is_some_and(|v| !v.at_least(6, 13)),
        "this test expects Debian 12's 6.1 kernel at {DEBIAN_KERNEL}: {:?}",
        facts.version
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = short(vec![Scenario::GuestDebian, Scenario::Veth]);
    o.host_cpu = umlvnf_kernel::HostCpu { amx: true };
    o.output_json = Some(dir.path().join("report.json"));
    let report = run(&o).expect("bench runs");
    print!("{}", report.table());
    let debian = &report.scenarios[0];
    let why = debian.skipped.as_deref().expect("skipped");
    assert!(why.contains("AMX") && why.contains(DEBIAN_KERNEL), "{why}");
    assert!(debian.error.is_none() && debian.points.is_empty() && debian.kernel.is_none());
    assert!(!report.has_errors());
    assert_eq!(report.scenarios[1].name, "veth");
    assert_eq!(report.scenarios[1].points.len(), 1);
    assert!(report.table().contains("guest-debian   SKIPPED: "));
    validate(&report);
    let back = Report::read(o.output_json.as_ref().unwrap()).expect("json reads back");
    assert_eq!(back.scenarios[0].skipped.as_deref(), Some(why));
    // It was not set up (a set-up records the kernel it booted, a failed one an error), and
    // nothing of a guest is left.
    assert_eq!(leftover_plain_guests(), Vec::<String>::new());
}

#[test]
fn root_io_uring_backend() {
    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = short(vec![Scenario::Veth]);
    o.backend = Backend::IoUring;
    o.output_json = Some(dir.path().join("uring.json"));
    let report = run(&o).expect("bench runs with io_uring");
    assert_eq!(leftover_namespaces(), Vec::<String>::new());
    print!("{}", report.table());
    check_sanity(&report);
    validate(&report);
    assert_eq!(report.settings.backend, Backend::IoUring);
    let header = report
        .table()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(header.contains("io_uring backend"), "{header}");
    // Timestamps and sequence numbers come through the ring as through sendmmsg: a veth
    // keeps order, and every delivered frame has a latency sample.
    let p = &report.scenarios[0].points[0];
    let t = &p.trials[0];
    assert_eq!(t.reordered, 0, "{t:?}");
    let lat = t.latency.expect("latency measured");
    assert!(lat.samples > 0 && lat.p50_ns <= lat.max_ns);
    // The JSON says which backend ran; a report from before the field reads as mmsg.
    let path = o.output_json.as_ref().unwrap();
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("json written")).unwrap();
    assert_eq!(json["settings"]["backend"], "io_uring");
    json["settings"]
        .as_object_mut()
        .expect("settings object")
        .remove("backend");
    let old = dir.path().join("old.json");
    std::fs::write(&old, json.to_string()).expect("write old report");
    let back = Report::read(&old).expect("a report without backend reads");
    assert_eq!(back.settings.backend, Backend::Mmsg);
    validate(&back);
}

/// Every process whose command line mentions `tag`.
fn processes_mentioning(tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(tag) {
            out.push(format!("{}: {text}", e.file_name().to_string_lossy()));
        }
    }
    out
}

/// `umlvnf bench` as a child: SIGINT once the guest scenario is measuring ends it non-zero
/// with "interrupted", and neither its namespaces nor its lab (state, namespaces, UML
/// processes) are left behind.
#[test]
fn root_sigint_during_a_guest_scenario_leaves_nothing() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    use std::time::Instant;

    require_root();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let started = Instant::now();
    let mut child = Command::new(umlvnf_bin())
        .args(["bench", "--scenarios", "veth,guest-raw", "--sizes", "64"])
        .args(["--duration", "5", "--reps", "1", "--warmup", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start umlvnf bench");
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let err_reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("bench: {line}");
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    // Kills the child if an assertion below fails before it has exited.
    struct KillOnDrop(Option<std::process::Child>);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Some(c) = self.0.as_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut guard = KillOnDrop(Some(child));
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut measuring = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) if line.starts_with("guest-raw: set up") => {
                measuring = true;
                break;
            }
            Ok(line) => assert!(!line.contains("FAILED"), "bench failed: {line}"),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("the bench ended before the guest scenario: {e}"),
        }
    }
    assert!(measuring, "the guest scenario did not start in time");
    // Into the guest's trial.
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) on our own child, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) }, 0);
    let child = guard.0.as_mut().expect("child");
    let stop_deadline = Instant::now() + Duration::from_secs(45);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < stop_deadline,
            "the bench did not stop within 45 s of SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    guard.0 = None;
    let err = err_reader.join().unwrap_or_default();
    let out = out_reader.join().unwrap_or_default();
    print!("{out}");
    assert!(!status.success(), "exit status {status:?}");
    assert!(err.contains("interrupted"), "{err}");
    // The partial report: veth was measured before the signal.
    assert!(out.lines().any(|l| l.starts_with("veth ")), "{out}");
    // Nothing of the child's is left: bench namespaces, the lab's state directory and
    // namespaces, its UML processes and runtime.
    let ns_prefix = format!("umlvnf-bench-{}", pid % 100_000);
    let lab_tag = format!("bn{:x}-", pid % 0x100_0000);
    let namespaces: Vec<String> = umlvnf_host::netns_list()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with(&ns_prefix) || n.contains(&lab_tag))
        .collect();
    assert_eq!(namespaces, Vec::<String>::new());
    let labs: Vec<String> = std::fs::read_dir(umlvnf_bench::lab::labs_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&lab_tag))
        .collect();
    assert_eq!(labs, Vec::<String>::new());
    assert_eq!(processes_mentioning(&lab_tag), Vec::<String>::new());
    // The run's only generated lab is its first one.
    let lab = format!("{lab_tag}0");
    let inspect = Command::new(umlvnf_bin())
        .args(["inspect", "--lab", &lab])
        .output()
        .expect("run umlvnf inspect");
    assert!(
        !inspect.status.success(),
        "lab {lab} is still known: {}",
        String::from_utf8_lossy(&inspect.stdout)
    );
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
}
