//! Boots real UML guests with the agent as init (needs root, umlvnf's appliance kernel from
//! `umlvnf kernel build`, `busybox-static`, `e2fsprogs`, `uml-utilities`, `iproute2`,
//! `iptables`).

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use umlvnf_agent::config::{FileConfig, GuestConfig, InterfaceConfig, RouteConfig};
use umlvnf_agent::{config_drive, AgentClient, AgentError};
use umlvnf_image::{BuiltKernel, KernelStore};
use umlvnf_kernel::Flavour;

const AGENT: &str = env!("CARGO_BIN_EXE_umlvnf-agent");

/// umlvnf's appliance kernel (SMP flavour, everything built in) from the kernel store; panics
/// saying how to build it when the store has none.
fn appliance_kernel() -> BuiltKernel {
    KernelStore::new(KernelStore::default_dir())
        .current(Flavour::Smp)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root: run `make test` as root");
    }
}

fn sh(cmd: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Everything one test creates; removed on drop, also when the test fails.
struct Lab {
    dir: PathBuf,
    name: String,
    uml: Option<Child>,
    console_log: Arc<Mutex<Vec<u8>>>,
    console: Option<UnixStream>,
    netns: Option<String>,
    veths: Vec<String>,
    _notify: Option<UnixDatagram>,
}

impl Lab {
    fn new(test: &str) -> Lab {
        let name = format!("{test}{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("umlvnf-agent-{name}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("uml")).unwrap();
        fs::create_dir_all(dir.join("hostfs")).unwrap();
        fs::set_permissions(dir.join("uml"), fs::Permissions::from_mode(0o700)).unwrap();
        Lab {
            dir,
            name,
            uml: None,
            console_log: Arc::default(),
            console: None,
            netns: None,
            veths: Vec::new(),
            _notify: None,
        }
    }

    /// A veth pair: `uvaPID` stays here for UML, `uvbPID` goes into a new netns with
    /// 10.1.0.1/24 and 2001:db8:1::1/64.
    fn veth(&mut self) -> String {
        let pid = std::process::id();
        let (a, b, ns) = (
            format!("uva{pid}"),
            format!("uvb{pid}"),
            format!("umlvnf-agent-{pid}"),
        );
        sh("ip", &["netns", "add", &ns]);
        self.netns = Some(ns.clone());
        sh(
            "ip",
            &["link", "add", &a, "type", "veth", "peer", "name", &b],
        );
        self.veths.push(a.clone());
        sh("ip", &["link", "set", &b, "netns", &ns]);
        sh("ip", &["-n", &ns, "addr", "add", "10.1.0.1/24", "dev", &b]);
        sh(
            "ip",
            &[
                "-n",
                &ns,
                "addr",
                "add",
                "2001:db8:1::1/64",
                "dev",
                &b,
                "nodad",
            ],
        );
        sh("ip", &["-n", &ns, "link", "set", &b, "up"]);
        sh("ip", &["link", "set", &a, "up"]);
        a
    }

    /// A veth pair `uvXPID`/`uvYPID` (X = `tag`), both ends up, no addresses.
    fn plain_veth(&mut self, tag: char) -> String {
        let pid = std::process::id();
        let (a, b) = (format!("uv{tag}{pid}"), format!("uw{tag}{pid}"));
        sh(
            "ip",
            &["link", "add", &a, "type", "veth", "peer", "name", &b],
        );
        self.veths.push(a.clone());
        sh("ip", &["link", "set", &a, "up"]);
        sh("ip", &["link", "set", &b, "up"]);
        a
    }

    /// Builds a busybox root with the agent, its libraries and iptables-legacy (the appliance
    /// kernel has no modules: IPv6 and x_tables are built in).
    fn build_root(&self) -> PathBuf {
        let root = self.dir.join("root");
        for d in [
            "bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "run", "etc", "root",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
        let list = sh("/bin/busybox", &["--list-full"]);
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let link = root.join(applet);
            if applet != "bin/busybox" && !link.exists() {
                fs::create_dir_all(link.parent().unwrap()).unwrap();
                symlink("/bin/busybox", &link).unwrap();
            }
        }
        fs::copy(AGENT, root.join("sbin/umlvnf-agent")).unwrap();
        let ldd = sh("ldd", &[AGENT]);
        for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
            if word.starts_with('/') {
                let dest = root.join(word.trim_start_matches('/'));
                fs::create_dir_all(dest.parent().unwrap()).unwrap();
                fs::copy(word, dest).unwrap();
            }
        }
        install_iptables(&root);
        // ethtool, to compare the agent's statistics report with.
        copy_with_libraries(&root, Path::new("/usr/sbin/ethtool"));
        let img = self.dir.join("rootfs.img");
        sh(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-d",
                root.to_str().unwrap(),
                img.to_str().unwrap(),
                "64M",
            ],
        );
        img
    }

    /// Boots UML with the runtime's command line; returns a client on the agent channel.
    /// `vecs` are the `vecN:...` arguments.
    fn boot(&mut self, cfg: &GuestConfig, vecs: &[String]) -> AgentClient<UnixStream> {
        let img = self.build_root();
        let drive = self.dir.join("config.img");
        config_drive::write(&drive, cfg).unwrap();
        let notify = self.dir.join("notify.sock");
        self._notify = Some(UnixDatagram::bind(&notify).unwrap());
        let d = self.dir.display();
        let mut args = vec![
            format!("ubd0={d}/cow,{}", img.display()),
            format!("ubd1={}", drive.display()),
            "root=/dev/ubda".into(),
            "rw".into(),
            "mem=128M".into(),
            format!("umid={}", self.name),
            format!("uml_dir={d}/uml"),
            "con=null".into(),
            "con0=fd:0,fd:1".into(),
            "con1=fd:3".into(),
            "ssl=null".into(),
            format!("mconsole=notify:{}", notify.display()),
            format!("hostfs={d}/hostfs"),
            "noreboot".into(),
            "init=/sbin/umlvnf-agent".into(),
        ];
        args.extend(vecs.iter().cloned());
        let (console_host, console_guest) = UnixStream::pair().unwrap();
        let (agent_host, agent_guest) = UnixStream::pair().unwrap();
        let log = fs::File::create(self.dir.join("uml.log")).unwrap();
        let console_out: OwnedFd = console_guest.try_clone().unwrap().into();
        let console_in: OwnedFd = console_guest.into();
        let agent_fd = agent_guest.as_raw_fd();
        let mut cmd = Command::new(appliance_kernel().binary());
        cmd.args(&args)
            .stdin(Stdio::from(console_in))
            .stdout(Stdio::from(console_out))
            .stderr(Stdio::from(log))
            .env("TMPDIR", "/dev/shm");
        // SAFETY: only async-signal-safe calls (setsid, dup2, fcntl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                if agent_fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0);
                } else if libc::dup2(agent_fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self.uml = Some(cmd.spawn().unwrap());
        drop(agent_guest);
        let sink = self.console_log.clone();
        let mut reader = console_host.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        self.console = Some(console_host);
        AgentClient::new(agent_host).with_node(self.name.clone())
    }

    fn console_text(&self) -> String {
        String::from_utf8_lossy(&self.console_log.lock().unwrap()).into_owned()
    }

    fn mconsole(&self, cmd: &str) {
        let sock = self.dir.join("uml").join(&self.name).join("mconsole");
        sh("uml_mconsole", &[sock.to_str().unwrap(), cmd]);
    }

    /// Waits for the UML process to exit; returns how long it took.
    fn wait_exit(&mut self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        let child = self.uml.as_mut()?;
        while start.elapsed() < limit {
            if child.try_wait().unwrap().is_some() {
                self.uml = None;
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut child) = self.uml.take() {
            // SAFETY: kill only sends a signal, to the UML session we started.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- console of {} ----\n{}",
                self.name,
                self.console_text()
            );
            if let Ok(log) = fs::read_to_string(self.dir.join("uml.log")) {
                eprintln!("---- stderr of {} ----\n{log}", self.name);
            }
        }
        for v in self.veths.drain(..) {
            let _ = Command::new("ip").args(["link", "del", &v]).output();
        }
        if let Some(ns) = self.netns.take() {
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// The host's iptables-legacy (package `iptables`) as the minimal image carries it.
const XTABLES: &str = "/usr/sbin/xtables-legacy-multi";
const XTABLES_PLUGINS: &str = "/usr/lib/x86_64-linux-gnu/xtables";
const XTABLES_NAMES: &[&str] = &[
    "iptables-legacy",
    "iptables-legacy-restore",
    "iptables-legacy-save",
    "ip6tables-legacy",
    "ip6tables-legacy-restore",
    "ip6tables-legacy-save",
];

/// Copies a host file to the same path under `root`, with its `ldd` libraries.
fn copy_with_libraries(root: &Path, file: &Path) {
    let dest = root.join(file.strip_prefix("/").unwrap());
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    fs::copy(file, &dest).unwrap();
    let ldd = Command::new("ldd").arg(file).output().unwrap();
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        let dest = root.join(word.trim_start_matches('/'));
        if word.starts_with('/') && !dest.exists() {
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::copy(word, dest).unwrap();
        }
    }
}

/// Installs iptables-legacy (the multi binary, its names, its plugins) into a test root.
fn install_iptables(root: &Path) {
    copy_with_libraries(root, Path::new(XTABLES));
    for name in XTABLES_NAMES {
        symlink("xtables-legacy-multi", root.join("usr/sbin").join(name)).unwrap();
    }
    for entry in fs::read_dir(XTABLES_PLUGINS).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if ["libxt_", "libipt_", "libip6t_"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            copy_with_libraries(root, &path);
        }
    }
}

const T: Duration = Duration::from_secs(30);

fn exec_ok(c: &mut AgentClient<UnixStream>, script: &str) -> String {
    let out = c.exec(&["sh", "-c", script], None, T).unwrap();
    assert_eq!(
        out.status,
        0,
        "{script}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn root_agent_boots() {
    require_root();
    let mut lab = Lab::new("agt");
    let veth = lab.veth();
    let hostname = format!("agent-test-{}", std::process::id());
    let cfg = GuestConfig {
        lab: "test".into(),
        node: lab.name.clone(),
        hostname: hostname.clone(),
        // The appliance kernel has IPv6 and x_tables built in: nothing to load.
        modules: Vec::new(),
        interfaces: vec![InterfaceConfig {
            device: "vec0".into(),
            name: "eth0".into(),
            mtu: Some(1400),
            ipv4: vec!["10.1.0.254/24".into()],
            ipv6: vec!["2001:db8:1::254/64".into()],
            keepalive: false,
        }],
        routes: vec![
            RouteConfig {
                route: "198.51.100.0/24 via 10.1.0.1".into(),
                v6: false,
            },
            RouteConfig {
                route: "2001:db8:99::/64 via 2001:db8:1::1".into(),
                v6: true,
            },
        ],
        sysctls: vec![("net.ipv4.ip_forward".into(), "1".into())],
        nftables: None,
        iptables: Some(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A FORWARD -p tcp --dport 23 -j DROP\nCOMMIT\n"
                .into(),
        ),
        ip6tables: Some(
            "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p udp --dport 53 -j ACCEPT\nCOMMIT\n".into(),
        ),
        files: vec![FileConfig {
            path: "/etc/umlvnf/hello.txt".into(),
            mode: 0o640,
            data: b"hello\n".to_vec(),
        }],
        exec: vec!["echo ran > /tmp/exec-ran".into()],
    };
    let start = Instant::now();
    let mut c = lab.boot(
        &cfg,
        &[format!("vec0:transport=raw,ifname={veth},depth=64")],
    );
    c.wait_ready(Duration::from_secs(60)).unwrap();
    eprintln!("ready after {:?}", start.elapsed());

    let out = c
        .exec(&["sh", "-c", "echo out; echo err >&2; exit 3"], None, T)
        .unwrap();
    assert_eq!(
        (out.status, out.stdout.as_slice(), out.stderr.as_slice()),
        (3, &b"out\n"[..], &b"err\n"[..])
    );

    let data = random_bytes(200 * 1024, 0x1234_5678 ^ u64::from(std::process::id()));
    let t = Instant::now();
    c.put_file("/root/data.bin", 0o600, &data, T).unwrap();
    let put_time = t.elapsed();
    let t = Instant::now();
    let back = c.get_file("/root/data.bin", T).unwrap();
    eprintln!("200 KiB: put {put_time:?}, get {:?}", t.elapsed());
    assert!(
        back == data,
        "the file read back differs from the one written"
    );
    assert_eq!(exec_ok(&mut c, "stat -c %a /root/data.bin"), "600\n");

    // Configuration results.
    assert_eq!(exec_ok(&mut c, "hostname"), format!("{hostname}\n"));
    assert_eq!(
        c.get_file("/proc/sys/net/ipv4/ip_forward", T).unwrap(),
        b"1\n"
    );
    assert_eq!(c.get_file("/etc/umlvnf/hello.txt", T).unwrap(), b"hello\n");
    assert_eq!(exec_ok(&mut c, "stat -c %a /etc/umlvnf/hello.txt"), "640\n");
    assert_eq!(c.get_file("/tmp/exec-ran", T).unwrap(), b"ran\n");
    let link = exec_ok(&mut c, "ip addr show dev eth0");
    assert!(link.contains("mtu 1400"), "{link}");
    assert!(link.contains("10.1.0.254/24"), "{link}");
    assert!(link.contains("2001:db8:1::254/64"), "{link}");
    assert!(!exec_ok(&mut c, "ip link").contains("vec0"));
    assert!(exec_ok(&mut c, "ip route").contains("198.51.100.0/24 via 10.1.0.1"));
    assert!(exec_ok(&mut c, "ip -6 route").contains("2001:db8:99::/64 via 2001:db8:1::1"));
    // The iptables and ip6tables rulesets were loaded through x_tables.
    let v4 = exec_ok(&mut c, "iptables-legacy -S FORWARD");
    assert!(
        v4.contains("-A FORWARD -p tcp -m tcp --dport 23 -j DROP"),
        "{v4}"
    );
    let v6 = exec_ok(&mut c, "ip6tables-legacy -S FORWARD");
    assert!(v6.contains("-P FORWARD DROP"), "{v6}");
    assert!(
        v6.contains("-A FORWARD -p udp -m udp --dport 53 -j ACCEPT"),
        "{v6}"
    );
    assert!(c
        .get_file("/etc/umlvnf/iptables.rules", T)
        .unwrap()
        .starts_with(b"*filter\n"));
    // Traffic through vec0 to the netns this test created.
    exec_ok(
        &mut c,
        "for i in 1 2 3 4 5; do ping -c 1 -W 1 10.1.0.1 && exit 0; done; exit 1",
    );
    exec_ok(
        &mut c,
        "for i in 1 2 3 4 5; do ping6 -c 1 -W 1 2001:db8:1::1 && exit 0; done; exit 1",
    );

    // The statistics report: /proc/net/dev, then each interface's driver statistics with the
    // names `ethtool -S` prints in the guest; the pings above are counted.
    let report = c.net_stats(T).unwrap();
    assert!(report.starts_with("Inter-|"), "{report}");
    let eth0 = report
        .split("\n== ")
        .find_map(|s| s.strip_prefix("eth0\n"))
        .unwrap_or_else(|| panic!("no eth0 section: {report}"));
    let stat_names = |t: &str| -> Vec<String> {
        t.lines()
            .filter_map(|l| l.trim().rsplit_once(':'))
            .filter(|(n, v)| !n.is_empty() && v.trim().parse::<u64>().is_ok())
            .map(|(n, _)| n.trim().to_string())
            .collect()
    };
    let ours = stat_names(eth0);
    assert!(ours.contains(&"rx_queue_max".to_string()), "{eth0}");
    assert_eq!(ours, stat_names(&exec_ok(&mut c, "ethtool -S eth0")));
    let rx_packets: u64 = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("eth0:"))
        .and_then(|rest| rest.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("no eth0 line in /proc/net/dev: {report}"));
    assert!(rx_packets >= 2, "{report}");

    // exec runs argv directly, with stdin, and honours its timeout.
    let out = c.exec(&["cat"], Some(b"from stdin"), T).unwrap();
    assert_eq!(out.stdout, b"from stdin");
    let t = Instant::now();
    let out = c
        .exec(&["head", "-c", "3000000", "/dev/urandom"], None, T)
        .unwrap();
    eprintln!("3 MB of exec stdout in {:?}", t.elapsed());
    assert_eq!(out.stdout.len(), 3_000_000);
    assert!(!out.truncated);
    let e = c
        .exec(&["sleep", "30"], None, Duration::from_millis(500))
        .unwrap_err();
    assert!(matches!(e, AgentError::Timeout { .. }), "{e}");
    c.ping(T).unwrap();

    // The interactive shell on the console answers.
    lab.console
        .as_ref()
        .unwrap()
        .write_all(b"echo shell-$((6*7))\n")
        .unwrap();
    let t = Instant::now();
    while !lab.console_text().contains("shell-42") {
        assert!(t.elapsed() < T, "the console shell did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Commands start with no signal blocked (the agent blocks the ones its signalfd reads).
    let out = c
        .exec(
            &["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"],
            None,
            T,
        )
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains("SigBlk:\t0000000000000000"), "{status}");
    assert!(status.contains("SigIgn:\t0000000000000000"), "{status}");
    let env = exec_ok(&mut c, "env | sort");
    assert!(env.contains("PATH=/sbin:/bin:/usr/sbin:/usr/bin"), "{env}");
    let verbose = std::env::var_os("UMLVNF_TEST_VERBOSE").is_some();
    if verbose {
        eprintln!("---- exec environment ----\n{env}");
    }

    // ctrl-alt-del powers the guest off cleanly.
    lab.mconsole("cad");
    let took = lab.wait_exit(Duration::from_secs(15));
    assert!(took.is_some(), "UML did not exit within 15 s of `cad`");
    eprintln!("exited {:?} after cad", took.unwrap());
    assert!(lab.console_text().contains("powering off"));
    if verbose {
        eprintln!("---- console ----\n{}", lab.console_text());
    }
}

#[test]
fn root_agent_reports_config_failure() {
    require_root();
    let mut lab = Lab::new("agf");
    let (v0, v1) = (lab.plain_veth('c'), lab.plain_veth('d'));
    let cfg = GuestConfig {
        lab: "test".into(),
        node: lab.name.clone(),
        hostname: "failing".into(),
        // vec1 is renamed to vec0, which exists: the agent must go through temporary names.
        interfaces: vec![
            InterfaceConfig {
                device: "vec0".into(),
                name: "eth0".into(),
                ..InterfaceConfig::default()
            },
            InterfaceConfig {
                device: "vec1".into(),
                name: "vec0".into(),
                ..InterfaceConfig::default()
            },
        ],
        exec: vec![
            "true".into(),
            "echo bad thing >&2; exit 7".into(),
            "touch /tmp/never".into(),
        ],
        ..GuestConfig::default()
    };
    let mut c = lab.boot(
        &cfg,
        &[
            format!("vec0:transport=raw,ifname={v0},mac=02:00:00:00:00:a0"),
            format!("vec1:transport=raw,ifname={v1},mac=02:00:00:00:00:a1"),
        ],
    );
    match c.wait_ready(Duration::from_secs(60)) {
        Err(AgentError::ConfigFailed {
            step,
            command,
            error,
            ..
        }) => {
            assert_eq!(step, "exec");
            assert!(command.contains("exit 7"), "{command}");
            assert!(error.contains("exit status 7"), "{error}");
            assert!(error.contains("bad thing"), "{error}");
        }
        other => panic!("expected ConfigFailed, got {other:?}"),
    }
    // The agent stopped applying but still serves requests.
    c.ping(T).unwrap();
    assert_eq!(exec_ok(&mut c, "hostname"), "failing\n");
    assert_eq!(
        c.get_file("/sys/class/net/eth0/address", T).unwrap(),
        b"02:00:00:00:00:a0\n"
    );
    assert_eq!(
        c.get_file("/sys/class/net/vec0/address", T).unwrap(),
        b"02:00:00:00:00:a1\n"
    );
    assert!(!exec_ok(&mut c, "ip link").contains("vec1"));
    let out = c.exec(&["test", "-e", "/tmp/never"], None, T).unwrap();
    assert_eq!(out.status, 1, "the step after the failing one must not run");
    lab.mconsole("cad");
    assert!(lab.wait_exit(Duration::from_secs(15)).is_some());
}

#[test]
fn root_agent_reports_iptables_failure() {
    require_root();
    let mut lab = Lab::new("agi");
    let cfg = GuestConfig {
        lab: "test".into(),
        node: lab.name.clone(),
        hostname: "badrules".into(),
        iptables: Some("*filter\n-A NOSUCHCHAIN -j DROP\nCOMMIT\n".into()),
        exec: vec!["touch /tmp/never".into()],
        ..GuestConfig::default()
    };
    let mut c = lab.boot(&cfg, &[]);
    match c.wait_ready(Duration::from_secs(60)) {
        Err(AgentError::ConfigFailed {
            step,
            command,
            error,
            ..
        }) => {
            assert_eq!(step, "iptables");
            assert!(
                command.contains("iptables-legacy-restore < /etc/umlvnf/iptables.rules"),
                "{command}"
            );
            assert!(error.contains("exit status"), "{error}");
            assert!(error.contains("line 2"), "{error}");
        }
        other => panic!("expected ConfigFailed, got {other:?}"),
    }
    let out = c.exec(&["test", "-e", "/tmp/never"], None, T).unwrap();
    assert_eq!(out.status, 1, "the steps after iptables must not run");
    lab.mconsole("cad");
    assert!(lab.wait_exit(Duration::from_secs(15)).is_some());
}
