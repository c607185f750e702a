//! Root tests: build real images and boot real UML guests from them through COW overlays.
//!
//! The guests boot umlvnf's appliance kernel from the kernel store (`umlvnf kernel build`), which
//! has every feature built in and no modules. Debian's modular 6.1 kernel is only used to build
//! an image carrying its modules, never booted (it cannot boot on hosts whose CPU has AMX).

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use umlvnf_image::{
    boot_args, BuiltKernel, ImageInputs, ImageKind, ImageStore, KernelInfo, KernelStore,
    AGENT_GUEST_PATH, DEBIAN_KERNEL,
};
use umlvnf_kernel::Flavour;

fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root: run `make test` as root");
    }
}

/// umlvnf's appliance kernel (SMP flavour, everything built in) from the kernel store; panics
/// saying how to build it when the store has none.
fn appliance_kernel() -> BuiltKernel {
    KernelStore::new(KernelStore::default_dir())
        .current(Flavour::Smp)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A UML guest process, killed with its whole session (process group) when dropped.
struct Guest {
    child: Child,
}

impl Drop for Guest {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child's process group; no memory is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Boots `base` on the appliance kernel with a fresh COW in `work`, returns everything written to
/// the console until the guest exits (or `limit` passes) and whether it exited by itself.
fn boot(base: &Path, work: &Path, name: &str, limit: Duration) -> (String, bool) {
    let cow = work.join(format!("{name}.cow"));
    let uml_dir = work.join("uml");
    let hostfs = work.join("hostfs");
    std::fs::create_dir_all(&uml_dir).unwrap();
    std::fs::set_permissions(&uml_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::create_dir_all(&hostfs).unwrap();
    let log = std::fs::File::create(work.join(format!("{name}.log"))).unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let theirs_out: OwnedFd = theirs.try_clone().unwrap().into();
    let theirs_in: OwnedFd = theirs.into();
    let kernel = appliance_kernel().binary();
    let mut cmd = Command::new(&kernel);
    cmd.arg(boot_args(base, &cow))
        .args(["root=/dev/ubda", "rw", "mem=128M"])
        .arg(format!("umid={name}"))
        .arg(format!("uml_dir={}", uml_dir.display()))
        .args(["con=null", "con0=fd:0,fd:1", "ssl=null"])
        .arg(format!("hostfs={}", hostfs.display()))
        .arg("noreboot")
        .arg(format!("init={AGENT_GUEST_PATH}"))
        .env("TMPDIR", "/dev/shm")
        .stdin(Stdio::from(theirs_in))
        .stdout(Stdio::from(theirs_out))
        .stderr(Stdio::from(log));
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut guest = Guest {
        child: cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", kernel.display())),
    };
    drop(cmd);
    let deadline = Instant::now() + limit;
    let mut console = Vec::new();
    let mut reader = ours;
    reader
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    // Read until the guest closes the console (it exited) or time runs out.
    while Instant::now() < deadline {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => console.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("reading the console: {e}"),
        }
    }
    let mut exited = false;
    let reap_deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < reap_deadline.min(deadline + Duration::from_secs(1)) {
        if guest.child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(guest);
    (String::from_utf8_lossy(&console).into_owned(), exited)
}

/// Writes the test agent (a shell script run as init) into `dir`.
fn test_agent(dir: &Path, prologue: &str, body: &str) -> PathBuf {
    let script = format!(
        "#!/bin/sh\n\
{prologue}\n\
export PATH=/usr/sbin:/usr/bin:/sbin:/bin\n\
mount -t proc proc /proc\n\
mount -t sysfs sysfs /sys\n\
check() {{ out=$(\"$@\" 2>&1); rc=$?; echo \"$out\"; if [ $rc -eq 0 ]; then echo \"CHECK-OK: $*\"; else echo \"CHECK-FAIL($rc): $*\"; fi; }}\n\
echo TEST-AGENT-START\n\
{body}\n\
echo TEST-AGENT-END\n\
sync\n\
poweroff -f 2>/dev/null || echo o > /proc/sysrq-trigger\n\
sleep 5\n"
    );
    let path = dir.join("umlvnf-agent");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn assert_checks(console: &str, commands: &[&str]) {
    for command in commands {
        assert!(
            console.contains(&format!("CHECK-OK: {command}\n"))
                || console.contains(&format!("CHECK-OK: {command}\r\n")),
            "`{command}` did not succeed in the guest; console:\n{console}"
        );
    }
}

/// The `ROOT-FREE-KB=` figure the test agents print from `df -k /`.
fn root_free_kb(console: &str) -> u64 {
    console
        .lines()
        .find_map(|l| l.trim().strip_prefix("ROOT-FREE-KB="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no free-space line; console:\n{console}"))
}

fn mtime(path: &Path) -> (i64, i64, u64) {
    let m = std::fs::metadata(path).unwrap();
    (m.mtime(), m.mtime_nsec(), m.size())
}

#[test]
fn root_minimal_image_boots() {
    require_root();
    let tmp = tempfile::Builder::new()
        .prefix(&format!("umlvnf-image-min-{}-", std::process::id()))
        .tempdir()
        .unwrap();
    let agent = test_agent(
        tmp.path(),
        "",
        "check test -e /proc/net/if_inet6\n\
check nft list tables\n\
check nft add table ip umlvnftest\n\
check nft add table ip6 umlvnftest\n\
check nft add table inet umlvnftest\n\
check nft add table bridge umlvnftest\n\
check nft list ruleset\n\
check ethtool --version\n\
check tcpdump --version\n\
check ip link add umlvnfbr0 type bridge\n\
check ip link add umlvnfve0 type veth\n\
check ip link add umlvnfdu0 type dummy\n\
check sh -c 'zcat /proc/config.gz | grep -x CONFIG_NET_SCH_NETEM=y'\n\
printf '*filter\\n:FORWARD ACCEPT [0:0]\\n-A FORWARD -p tcp --dport 23 -j DROP\\nCOMMIT\\n' > /tmp/v4.rules\n\
check sh -c 'iptables-legacy-restore < /tmp/v4.rules'\n\
check iptables-legacy -S FORWARD\n\
printf '*filter\\n:FORWARD DROP [0:0]\\n-A FORWARD -p ipv6-icmp -j ACCEPT\\nCOMMIT\\n' > /tmp/v6.rules\n\
check sh -c 'ip6tables-restore < /tmp/v6.rules'\n\
check ip6tables -S FORWARD\n\
check iptables -t nat -A POSTROUTING -o lo -j MASQUERADE\n\
check iptables-save -t nat\n\
check test ! -e /lib/modules\n\
echo \"ROOT-FREE-KB=$(df -k / | awk 'NR==2 {print $4}')\"",
    );
    let store = ImageStore::new(tmp.path().join("store"));
    let inputs = ImageInputs::new(&agent);
    let messages = std::cell::RefCell::new(Vec::new());
    let progress = |m: &str| messages.borrow_mut().push(m.to_string());

    let t0 = Instant::now();
    let base = store
        .ensure(ImageKind::Minimal, &inputs, &progress)
        .unwrap();
    let build_time = t0.elapsed();
    let t1 = Instant::now();
    let again = store
        .ensure(ImageKind::Minimal, &inputs, &progress)
        .unwrap();
    let cached_time = t1.elapsed();
    eprintln!(
        "minimal build {:.2} s, cached ensure {:.3} s, progress: {:?}",
        build_time.as_secs_f64(),
        cached_time.as_secs_f64(),
        messages.borrow()
    );
    assert_eq!(base, again);
    assert!(
        cached_time < Duration::from_secs(2),
        "cached ensure took {cached_time:?}"
    );
    assert!(
        build_time < Duration::from_secs(60),
        "build took {build_time:?}"
    );

    let meta = std::fs::metadata(&base).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o444);
    let allocated = meta.blocks() * 512;
    eprintln!(
        "minimal image: apparent {} MiB, allocated {} MiB",
        meta.len() >> 20,
        allocated >> 20
    );
    assert!(allocated < meta.len(), "the image should be sparse");
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].kind, ImageKind::Minimal);
    assert_eq!(list[0].path, base);

    let before = mtime(&base);
    let (console, exited) = boot(
        &base,
        tmp.path(),
        &format!("imgmin{}", std::process::id()),
        Duration::from_secs(60),
    );
    assert!(exited, "the guest did not power off; console:\n{console}");
    assert!(console.contains("TEST-AGENT-END"), "console:\n{console}");
    assert_checks(
        &console,
        &[
            "test -e /proc/net/if_inet6",
            "nft list tables",
            "nft add table ip umlvnftest",
            "nft add table ip6 umlvnftest",
            "nft add table inet umlvnftest",
            "nft add table bridge umlvnftest",
            "nft list ruleset",
            "ethtool --version",
            "tcpdump --version",
            "ip link add umlvnfbr0 type bridge",
            "ip link add umlvnfve0 type veth",
            "ip link add umlvnfdu0 type dummy",
            "sh -c zcat /proc/config.gz | grep -x CONFIG_NET_SCH_NETEM=y",
            "sh -c iptables-legacy-restore < /tmp/v4.rules",
            "iptables-legacy -S FORWARD",
            "sh -c ip6tables-restore < /tmp/v6.rules",
            "ip6tables -S FORWARD",
            "iptables -t nat -A POSTROUTING -o lo -j MASQUERADE",
            "iptables-save -t nat",
            // No modules in the image: the kernel has none.
            "test ! -e /lib/modules",
        ],
    );
    for rule in [
        "-A FORWARD -p tcp -m tcp --dport 23 -j DROP",
        "-P FORWARD DROP",
        "-A FORWARD -p ipv6-icmp -j ACCEPT",
        "-A POSTROUTING -o lo -j MASQUERADE",
    ] {
        assert!(
            console.contains(rule),
            "`{rule}` is not listed in the guest; console:\n{console}"
        );
    }
    let free_kb = root_free_kb(&console);
    eprintln!("guest: minimal root has {free_kb} KiB free");
    assert!(
        free_kb > 48 * 1024,
        "only {free_kb} KiB free in the guest's root"
    );
    assert_eq!(mtime(&base), before, "booting changed the base image");
    assert!(tmp
        .path()
        .join(format!("imgmin{}.cow", std::process::id()))
        .is_file());

    // A changed agent gives a new image; the old one stays untouched.
    std::fs::write(
        &agent,
        format!("{}\n# changed\n", std::fs::read_to_string(&agent).unwrap()),
    )
    .unwrap();
    let changed = store.image_path(ImageKind::Minimal, &inputs).unwrap();
    assert_ne!(changed, base);
    assert_eq!(mtime(&base), before);
}

/// Lists a directory of an ext4 image with `debugfs` (e2fsprogs), without mounting it: one name
/// a line.
fn image_ls(image: &Path, dir: &str) -> Vec<String> {
    let out = Command::new("debugfs")
        .arg("-R")
        .arg(format!("ls -p {dir}"))
        .arg(image)
        .output()
        .expect("debugfs (e2fsprogs) must be installed");
    assert!(
        out.status.success(),
        "debugfs failed on {}",
        image.display()
    );
    // `ls -p` prints /inode/mode/uid/gid/name/size/ per entry.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split('/').nth(5).map(str::to_string))
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .collect()
}

/// Images for a modular kernel carry its network modules. Debian's 6.1 kernel is only asked for
/// its version here: booting it is not possible on every host.
#[test]
fn root_minimal_image_carries_the_modules_of_a_modular_kernel() {
    require_root();
    let tmp = tempfile::Builder::new()
        .prefix(&format!("umlvnf-image-mod-{}-", std::process::id()))
        .tempdir()
        .unwrap();
    let agent = test_agent(tmp.path(), "", "true");
    let store = ImageStore::new(tmp.path().join("store"));
    let debian = KernelInfo::probe(Path::new(DEBIAN_KERNEL)).unwrap();
    let inputs = ImageInputs {
        modules_from: Some(PathBuf::from(DEBIAN_KERNEL)),
        ..ImageInputs::new(&agent)
    };
    let messages = std::cell::RefCell::new(Vec::new());
    let progress = |m: &str| messages.borrow_mut().push(m.to_string());
    let base = store
        .ensure(ImageKind::Minimal, &inputs, &progress)
        .unwrap();
    let installed = messages
        .borrow()
        .iter()
        .find_map(|m| {
            m.strip_prefix("minimal: ")?
                .strip_suffix(" kernel modules installed")?
                .parse::<usize>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no module count in {:?}", messages.borrow()));
    let wanted = debian.selected_modules().unwrap();
    assert_eq!(installed, wanted.len());
    // Modules change the image: the same agent without them is another file.
    let plain = store
        .image_path(ImageKind::Minimal, &ImageInputs::new(&agent))
        .unwrap();
    assert_ne!(plain, base);

    assert_eq!(
        image_ls(&base, "/lib/modules"),
        vec![debian.version.clone()]
    );
    let version_dir = format!("/lib/modules/{}", debian.version);
    let meta = image_ls(&base, &version_dir);
    assert!(meta.iter().any(|n| n == "modules.dep"), "{meta:?}");
    for (dir, module) in [
        ("kernel/net/ipv6", "ipv6.ko"),
        ("kernel/net/netfilter", "nf_tables.ko"),
        ("kernel/net/bridge", "bridge.ko"),
        ("kernel/net/sched", "sch_netem.ko"),
        ("kernel/drivers/net", "veth.ko"),
    ] {
        let names = image_ls(&base, &format!("{version_dir}/{dir}"));
        assert!(
            names.iter().any(|n| n == module),
            "{module} is not in {version_dir}/{dir}: {names:?}"
        );
    }
}

/// The Debian test keeps its store (with the debootstrap tarball) under the target directory so
/// only the first run pays for debootstrap.
fn debian_cache_store() -> ImageStore {
    ImageStore::new(Path::new(env!("CARGO_TARGET_TMPDIR")).join("umlvnf-image-debian-cache"))
}

#[test]
fn root_debian_image_boots() {
    require_root();
    let tmp = tempfile::Builder::new()
        .prefix(&format!("umlvnf-image-deb-{}-", std::process::id()))
        .tempdir()
        .unwrap();
    let agent_dir = tmp.path().join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let agent = test_agent(&agent_dir, DEBIAN_REAPER, DEBIAN_BODY);
    let store = debian_cache_store();
    let inputs = ImageInputs::new(&agent);
    let progress = |m: &str| eprintln!("progress: {m}");
    let t0 = Instant::now();
    let base = store.ensure(ImageKind::Debian, &inputs, &progress).unwrap();
    let build_time = t0.elapsed();
    let t1 = Instant::now();
    let again = store.ensure(ImageKind::Debian, &inputs, &progress).unwrap();
    let cached_time = t1.elapsed();
    eprintln!(
        "debian ensure {:.1} s, cached ensure {:.3} s",
        build_time.as_secs_f64(),
        cached_time.as_secs_f64()
    );
    assert_eq!(base, again);
    assert!(
        cached_time < Duration::from_secs(2),
        "cached ensure took {cached_time:?}"
    );
    // Keep only this image (and the current rootfs tarball) in the cache.
    store.remove_stale(std::slice::from_ref(&base)).unwrap();
    assert!(base.is_file());
    let tarballs = std::fs::read_dir(store.dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("debian-rootfs-")
        })
        .count();
    assert_eq!(
        tarballs, 1,
        "exactly the current rootfs tarball stays cached"
    );

    let before = mtime(&base);
    let name = format!("imgdeb{}", std::process::id());
    let (console, exited) = boot(&base, tmp.path(), &name, Duration::from_secs(120));
    assert!(exited, "the guest did not power off; console:\n{console}");
    assert!(console.contains("TEST-AGENT-END"), "console:\n{console}");
    assert_checks(
        &console,
        &[
            "ip -V",
            "nft --version",
            "/usr/lib/frr/zebra --version",
            "test -e /proc/net/if_inet6",
            "nft list tables",
            "nft add table inet umlvnftest",
            "nft list ruleset",
            "iptables-legacy -A FORWARD -p tcp --dport 22 -j DROP",
            "iptables-legacy -t nat -A POSTROUTING -o lo -j MASQUERADE",
            "sh -c iptables-legacy-restore < /tmp/v4.rules",
            "ip6tables-legacy-restore --version",
            "ip link add dum0 type dummy",
            "ip link add br0 type bridge",
            "ip link add ve0 type veth peer name ve1",
            "tc qdisc add dev dum0 root netem delay 10ms",
            "tc qdisc show dev dum0",
            "/usr/lib/frr/frrinit.sh start",
            "/usr/lib/frr/frrinit.sh status",
            "vtysh -c show ip ospf",
            "vtysh -c show ip ospf interface dum0",
            "/usr/lib/frr/frrinit.sh stop",
        ],
    );
    assert!(
        console.contains("Router ID: 10.0.0.1") && console.contains("Internet Address 10.0.0.1/24"),
        "ospfd did not take the configuration; console:\n{console}"
    );
    assert!(
        console.contains("frr-processes-left=0"),
        "FRR daemons survived the stop; console:\n{console}"
    );
    assert!(
        console
            .lines()
            .any(|l| l.trim_start().starts_with("qdisc netem") && l.contains("delay 10ms")),
        "the netem qdisc is not listed; console:\n{console}"
    );
    assert!(console.contains("hostname=umlvnf"), "console:\n{console}");
    let free_kb = root_free_kb(&console);
    eprintln!("guest: debian root has {free_kb} KiB free");
    assert!(
        free_kb > 48 * 1024,
        "only {free_kb} KiB free in the guest's root"
    );
    for line in console
        .lines()
        .filter(|l| l.starts_with("frr-") || l.contains("iptables-nft-rc"))
    {
        eprintln!("guest: {line}");
    }
    assert_eq!(mtime(&base), before, "booting changed the base image");
}

/// PID 1 must reap orphans or FRR's stop script waits 120 s per daemon (`kill -0` succeeds on
/// zombies). The test agent therefore re-runs itself as a child of a perl reaper (perl-base is in
/// every Debian minbase); the real agent must reap too.
const DEBIAN_REAPER: &str = r#"if [ "$$" = 1 ] && [ -z "$TEST_CHILD" ]; then
  export TEST_CHILD=1
  exec /usr/bin/perl -e 'my $c = fork(); if ($c == 0) { exec @ARGV; die "exec: $!" } while (1) { my $p = wait(); sleep 1 if $p == -1; }' /bin/sh "$0"
fi"#;

const DEBIAN_BODY: &str = r#"mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /tmp
hostname r1
ip link set lo up
check ip -V
check nft --version
check /usr/lib/frr/zebra --version
check test -e /proc/net/if_inet6
check nft list tables
check nft add table inet umlvnftest
check nft list ruleset
check iptables-legacy -A FORWARD -p tcp --dport 22 -j DROP
check iptables-legacy -t nat -A POSTROUTING -o lo -j MASQUERADE
check iptables-legacy -S
printf '*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp --dport 23 -j DROP\nCOMMIT\n' > /tmp/v4.rules
check sh -c 'iptables-legacy-restore < /tmp/v4.rules'
check ip6tables-legacy-restore --version
iptables-nft -L 2>&1; echo "iptables-nft-rc=$?"
check ip link add dum0 type dummy
check ip addr add 10.0.0.1/24 dev dum0
check ip link set dum0 up
check ip link add br0 type bridge
check ip link add ve0 type veth peer name ve1
check tc qdisc add dev dum0 root netem delay 10ms
check tc qdisc show dev dum0
sed -i 's/^ospfd=no/ospfd=yes/' /etc/frr/daemons
cat > /etc/frr/frr.conf <<'CONF'
frr defaults traditional
hostname r1
!
router ospf
 ospf router-id 10.0.0.1
 network 10.0.0.0/24 area 0
!
CONF
t0=$(cut -d' ' -f1 /proc/uptime)
check /usr/lib/frr/frrinit.sh start
echo "frr-start-from=$t0 to=$(cut -d' ' -f1 /proc/uptime)"
check /usr/lib/frr/frrinit.sh status
sleep 2
check vtysh -c 'show version'
check vtysh -c 'show ip ospf'
check vtysh -c 'show ip ospf interface dum0'
check vtysh -c 'show running-config'
t0=$(cut -d' ' -f1 /proc/uptime)
check /usr/lib/frr/frrinit.sh stop
echo "frr-stop-from=$t0 to=$(cut -d' ' -f1 /proc/uptime)"
ps ax | grep -c '[f]rr/' | sed 's/^/frr-processes-left=/'
echo "hostname=$(cat /etc/hostname)"
echo "ROOT-FREE-KB=$(df -k / | awk 'NR==2 {print $4}')"
"#;
