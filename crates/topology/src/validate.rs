//! Semantic validation of a decoded topology, and resolution of the paths it names.
//!
//! Every rule reports at the place in the file where the offending value is written. Checks
//! that depend on a field that failed to decode are skipped, so one mistake is reported once.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::defaults::{
    parse_mode, KernelChoice, APPLIANCE_KERNEL, DEBIAN_KERNEL, MAX_MEMORY, MAX_VCPUS, MIN_MEMORY,
};
use crate::diagnostic::{Pos, Sink};
use crate::model::*;
use crate::names::{is_valid_ifname, is_valid_name};
use crate::spans::{index, join, Spans};

mod host_rules;
mod tunnel_rules;

/// Highest CPU number accepted in `cpus` (exclusive).
const MAX_CPUS: u32 = 1024;

/// Checks every rule and resolves relative paths against `base` (the topology file's
/// directory): image and hostfs paths and file sources become absolute, `nftables` file
/// references are replaced by the file's text.
pub(crate) fn validate(topo: &mut Topology, spans: &Spans, sink: &mut Sink, base: &Path) {
    let mut v = Validator {
        spans,
        sink,
        base,
        access: topo.host_access,
    };
    if !spans.is_bad("name") && !is_valid_name(&topo.name) {
        v.at_value(
            "name",
            format!(
                "`{}` is not a valid lab name: use 1 to 12 lower-case letters, digits and `-`, starting with a letter",
                topo.name.escape_debug()
            ),
        );
    }
    v.defaults(&mut topo.defaults);
    let kinds: HashMap<String, NodeKind> = topo
        .nodes
        .keys()
        .map(|n| (n.clone(), topo.node_kind(n)))
        .collect();
    for (name, node) in topo.nodes.iter_mut() {
        v.node(name, node, kinds[name]);
    }
    let used = v.links(topo, &kinds);
    if let Some(used) = &used {
        v.unlinked_interfaces(topo, used);
    }
    v.duplicate_addresses(topo);
    for (name, node) in &topo.nodes {
        v.route_devices(name, node, &used);
    }
    v.nftables_support(topo);
    v.cpus_and_clock(topo);
    v.host_rules(topo);
    if let Some(addr) = topo.metrics.as_ref().and_then(|m| m.listen) {
        if !addr.ip().is_loopback() && !topo.host_access.public_metrics {
            v.at_value(
                "metrics.listen",
                format!("{addr} is not a loopback address, so anyone who reaches this host could read the lab's metrics: listen on 127.0.0.1 or [::1], or allow it with `host_access: {{public_metrics: true}}`"),
            );
        }
    }
}

struct Validator<'a> {
    spans: &'a Spans,
    sink: &'a mut Sink,
    base: &'a Path,
    access: HostAccess,
}

/// True if every byte is in `[A-Za-z0-9/._+-]`: safe inside a UML option value.
pub(crate) fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'+' | b'-'))
}

const SAFE_PATH: &str =
    "letters, digits and `/._+-` (a `,`, `=` or space would inject UML options)";

impl Validator<'_> {
    fn at_value(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.spans.value(path);
        self.sink.error(pos, path, message);
    }

    fn at_key(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.spans.key(path);
        self.sink.error(pos, path, message);
    }

    /// Reports `full` at `field` when it lies outside the topology file's directory and
    /// `host_access.host_files` is off.
    fn inside_topology(&mut self, field: &str, full: &Path, what: &str) {
        if self.access.host_files {
            return;
        }
        let base = std::fs::canonicalize(self.base).unwrap_or_else(|_| self.base.to_path_buf());
        let full = std::fs::canonicalize(full).unwrap_or_else(|_| full.to_path_buf());
        if !full.starts_with(&base) {
            self.at_value(
                field,
                format!(
                    "{what} `{}` is outside the topology file's directory ({}), so the lab would read the host's files: move it there, or allow it with `host_access: {{host_files: true}}`",
                    full.display(),
                    base.display()
                ),
            );
        }
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// Resolves an existing path to an absolute, canonical one; reports and returns `None`
    /// when it does not exist or is not of the wanted kind.
    fn existing(&mut self, field: &str, value: &str, want_dir: bool, what: &str) -> Option<String> {
        let full = self.resolve(value);
        let kind_ok = if want_dir {
            full.is_dir()
        } else {
            full.is_file()
        };
        if !kind_ok {
            let why = if full.exists() {
                if want_dir {
                    "is not a directory"
                } else {
                    "is not a regular file"
                }
            } else {
                "does not exist"
            };
            self.at_value(
                field,
                format!("{what} `{}` {why}: give the path of an existing {}, absolute or relative to the topology file", full.display(), if want_dir { "directory" } else { "file" }),
            );
            return None;
        }
        match full.canonicalize() {
            Ok(c) => match c.to_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    self.at_value(
                        field,
                        format!("{what} `{}` is not valid UTF-8: rename it", c.display()),
                    );
                    None
                }
            },
            Err(e) => {
                self.at_value(
                    field,
                    format!(
                        "{what} `{}` cannot be resolved ({e}): give a readable path",
                        full.display()
                    ),
                );
                None
            }
        }
    }

    fn kernel(&mut self, field: &str, kernel: &mut String) {
        if kernel == APPLIANCE_KERNEL {
            return;
        }
        let full = self.resolve(kernel);
        let meta = std::fs::metadata(&full);
        let ok = matches!(&meta, Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0);
        if !ok {
            let why = match &meta {
                Err(_) => "does not exist",
                Ok(m) if !m.is_file() => "is not a regular file",
                Ok(_) => "is not executable",
            };
            self.at_value(
                field,
                format!("the kernel `{}` {why}: write `{APPLIANCE_KERNEL}` (umlvnf's own kernel, the default) or give an executable UML kernel, such as {DEBIAN_KERNEL}", full.display()),
            );
            return;
        }
        if let Err(why) = umlvnf_kernel::KernelFacts::read(&full) {
            self.at_value(
                field,
                format!("{why}: write `{APPLIANCE_KERNEL}` (umlvnf's own kernel, the default) or give a UML kernel binary"),
            );
            return;
        }
        if let Some(s) = full.to_str() {
            *kernel = s.to_string();
        }
    }

    fn image(&mut self, field: &str, image: &mut String) {
        if image == "minimal" || image == "debian" {
            return;
        }
        if let Some(full) = self.existing(field, image, false, "the image") {
            if is_safe_path(&full) {
                *image = full;
            } else {
                self.at_value(
                    field,
                    format!("the image path `{}` must use only {SAFE_PATH}; or write `minimal` or `debian`", full.escape_debug()),
                );
            }
        }
    }

    fn memory(&mut self, field: &str, memory: Memory) {
        if memory.bytes < MIN_MEMORY.bytes || memory.bytes > MAX_MEMORY.bytes {
            self.at_value(
                field,
                format!(
                    "{} MiB of guest memory is out of range: give 64M to 16G (UML can panic below 64M)",
                    memory.mib()
                ),
            );
        }
    }

    fn defaults(&mut self, d: &mut NodeDefaults) {
        if let Some(k) = d.kernel.as_mut() {
            self.kernel("defaults.kernel", k);
        }
        if let Some(i) = d.image.as_mut() {
            self.image("defaults.image", i);
        }
        if let Some(m) = d.memory {
            self.memory("defaults.memory", m);
        }
    }

    fn node(&mut self, name: &str, node: &mut Node, kind: NodeKind) {
        let path = join("nodes", name);
        if name == Endpoint::ROOT {
            self.at_key(
                &path,
                "`host` is reserved: in endpoints it means the host's root namespace; give the node another name",
            );
        } else if !is_valid_name(name) {
            self.at_key(
                &path,
                format!("`{}` is not a valid node name: use 1 to 12 lower-case letters, digits and `-`, starting with a letter", name.escape_debug()),
            );
        }
        match kind {
            NodeKind::Host => self.host_only(&path, node),
            NodeKind::Uml => self.uml_fields(&path, node),
        }
        for (ifname, iface) in &node.interfaces {
            let ipath = join(&join(&path, "interfaces"), ifname);
            self.ifname_rules(&ipath, ifname, kind, false);
            if let Some(mtu) = iface.mtu {
                let (lo, hi, why) = match kind {
                    NodeKind::Uml => (
                        576,
                        65534,
                        "on uml nodes (UML silently turns other values into 1500)",
                    ),
                    NodeKind::Host => (68, 65535, "on host nodes"),
                };
                if !(lo..=hi).contains(&mtu) {
                    self.at_value(
                        &join(&ipath, "mtu"),
                        format!("MTU {mtu} is out of range: give {lo} to {hi} {why}"),
                    );
                }
            }
        }
        for (key, value) in &node.sysctls {
            let spath = join(&join(&path, "sysctls"), key);
            let key_ok = key.split('.').all(|seg| {
                !seg.is_empty()
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
            if !key_ok {
                self.at_key(
                    &spath,
                    format!("`{}` is not a sysctl name: write dot-separated parts of letters, digits, `_` and `-`, such as net.ipv4.ip_forward", key.escape_debug()),
                );
            }
            if let SysctlValue::Text(t) = value {
                if t.chars().any(char::is_control) {
                    self.at_value(&spath, "a sysctl value must not contain control characters such as newlines or tabs: write it on one line");
                }
            }
        }
    }

    /// Describes an interface-name problem, or `None` if the name is fine on a node of `kind`.
    fn ifname_problem(ifname: &str, kind: NodeKind) -> Option<String> {
        if !is_valid_ifname(ifname) {
            return Some(format!(
                "`{}` is not a valid interface name: use 1 to 15 letters, digits, `-`, `_` or `.`",
                ifname.escape_debug()
            ));
        }
        if ifname == "lo" {
            return Some("`lo` is the loopback interface, which every node already has: name the interface differently, such as eth0".to_string());
        }
        if kind == NodeKind::Uml && ifname.starts_with("vec") {
            return Some(format!(
                "`{ifname}` starts with `vec`, which uml nodes use for their raw vector devices: name the interface differently, such as eth0"
            ));
        }
        None
    }

    fn ifname_rules(&mut self, path: &str, ifname: &str, kind: NodeKind, at_value: bool) {
        if let Some(msg) = Self::ifname_problem(ifname, kind) {
            if at_value {
                self.at_value(path, msg);
            } else {
                self.at_key(path, msg);
            }
        }
    }

    /// A ruleset is inline text (several lines, or with `{` or `*`), or else the path of a file
    /// relative to the topology file, whose text replaces it.
    fn ruleset(&mut self, field: &str, name: &str, text: &mut String) {
        if text.contains('\n') || text.contains('{') || text.contains('*') {
            return;
        }
        let full = self.resolve(text.trim());
        match std::fs::read_to_string(&full) {
            Ok(content) => {
                self.inside_topology(field, &full, &format!("the {name} file"));
                *text = content;
            }
            Err(e) => self.at_value(
                field,
                format!("cannot read the {name} file `{}` ({e}): give inline rules (several lines of text) or the path of a readable file relative to the topology file", full.display()),
            ),
        }
    }

    /// Every nftables family a ruleset uses must be built into the node's kernel.
    /// `vcpus`, `userspace` and `clock` against each other and against the node's kernel.
    fn cpus_and_clock(&mut self, topo: &Topology) {
        for (name, node) in &topo.nodes {
            if topo.node_kind(name) != NodeKind::Uml {
                continue;
            }
            let field = |f: &str, set: bool| {
                if set {
                    join(&join("nodes", name), f)
                } else {
                    join("defaults", f)
                }
            };
            let vcpus_at = field("vcpus", node.vcpus.is_some());
            let clock_at = field("clock", node.clock.is_some());
            let vcpus = topo.effective_vcpus(name);
            let clock = topo.effective_clock(name);
            let userspace = topo.effective_userspace(name);
            if !(1..=MAX_VCPUS).contains(&vcpus) {
                self.at_value(
                    &vcpus_at,
                    format!("{vcpus} virtual CPUs is out of range: give 1 to {MAX_VCPUS}"),
                );
                continue;
            }
            if vcpus > 1 && clock == Clock::Virtual {
                self.at_value(
                    &vcpus_at,
                    format!("{vcpus} virtual CPUs cannot run on a virtual clock (time-travel needs a single CPU): use `vcpus: 1` or `clock: real`"),
                );
            }
            if clock == Clock::Virtual && userspace == Some(Userspace::Seccomp) {
                self.at_value(
                    &field("userspace", node.userspace.is_some()),
                    "a virtual clock does not advance under the seccomp userspace (a sleeping guest never wakes): use `userspace: ptrace` (the default with `clock: virtual`) or `clock: real`",
                );
            }
            if vcpus > 1 && userspace == Some(Userspace::Ptrace) {
                self.at_value(
                    &vcpus_at,
                    format!("{vcpus} virtual CPUs need the seccomp userspace (UML runs SMP only with it): use `userspace: seccomp` or `vcpus: 1`"),
                );
            }
            let kernel = topo.effective_kernel(name);
            let KernelChoice::File(path) = &kernel else {
                continue;
            };
            let Ok(facts) = crate::kernel_config::kernel_facts(&kernel) else {
                continue;
            };
            let kernel_at = field("kernel", node.kernel.is_some());
            if clock == Clock::Virtual && !facts.has_time_travel() {
                self.at_value(
                    &clock_at,
                    format!("`clock: virtual` needs a kernel with time-travel, and {path} was built without CONFIG_UML_TIME_TRAVEL_SUPPORT: remove `kernel:` to use the appliance kernel's time-travel flavour"),
                );
            }
            if vcpus > 1 && !facts.has_smp() {
                self.at_value(
                    &vcpus_at,
                    format!("{vcpus} virtual CPUs need an SMP kernel, and {path} was built without CONFIG_SMP: remove `kernel:` to use the appliance kernel, or use `vcpus: 1`"),
                );
            }
            if userspace == Some(Userspace::Seccomp) && !facts.has_seccomp_userspace() {
                self.at_value(
                    &field("userspace", node.userspace.is_some()),
                    format!("the kernel {path} ({}) has no seccomp userspace (UML has it since 6.16): use `userspace: ptrace` or remove `kernel:` ({kernel_at}) to use the appliance kernel",
                        facts.version.map_or("release unknown".to_string(), |v| format!("release {v}"))),
                );
            }
        }
    }

    fn nftables_support(&mut self, topo: &Topology) {
        let mut configs = HashMap::new();
        for (name, node) in &topo.nodes {
            let Some(rules) = &node.nftables else {
                continue;
            };
            if topo.node_kind(name) != NodeKind::Uml {
                continue;
            }
            let kernel = topo.effective_kernel(name);
            let facts = configs
                .entry(kernel.clone())
                .or_insert_with(|| crate::kernel_config::kernel_facts(&kernel).ok());
            let Some(config) = facts.as_ref().map(|f| &f.config) else {
                continue;
            };
            for family in crate::kernel_config::nftables_families(rules) {
                let option = crate::kernel_config::nftables_family_option(&family);
                if !config.get(option).is_some_and(|v| v == "y" || v == "m") {
                    self.at_key(
                        &format!("nodes.{name}.nftables"),
                        format!("the ruleset uses the nftables `{family}` family, which {kernel} was built without ({option} is not set): remove `kernel:` to use umlvnf's appliance kernel, which has every nftables family, or write IP filtering under `iptables:` (iptables-restore format)"),
                    );
                }
            }
        }
    }

    fn host_only(&mut self, path: &str, node: &Node) {
        let set = [
            ("image", node.image.is_some()),
            ("kernel", node.kernel.is_some()),
            ("memory", node.memory.is_some()),
            ("nftables", node.nftables.is_some()),
            ("iptables", node.iptables.is_some()),
            ("ip6tables", node.ip6tables.is_some()),
            ("files", !node.files.is_empty()),
            ("restart", node.restart.is_some()),
            ("cpus", node.cpus.is_some()),
            ("hostfs", node.hostfs.is_some()),
            ("vcpus", node.vcpus.is_some()),
            ("userspace", node.userspace.is_some()),
            ("clock", node.clock.is_some()),
        ];
        for (field, is_set) in set {
            if is_set {
                self.at_key(
                    &join(path, field),
                    format!("`{field}` applies only to uml nodes, and this node is a host (a network namespace): remove it or make the node `kind: uml`"),
                );
            }
        }
    }

    fn uml_fields(&mut self, path: &str, node: &mut Node) {
        if let Some(k) = node.kernel.as_mut() {
            self.kernel(&join(path, "kernel"), k);
        }
        if let Some(i) = node.image.as_mut() {
            self.image(&join(path, "image"), i);
        }
        if let Some(m) = node.memory {
            self.memory(&join(path, "memory"), m);
        }
        if let Some(h) = node.hostfs.as_mut() {
            let field = join(path, "hostfs");
            if let Some(full) = self.existing(&field, h, true, "the hostfs directory") {
                self.inside_topology(&field, Path::new(&full), "the hostfs directory");
                if is_safe_path(&full) {
                    *h = full;
                } else {
                    self.at_value(
                        &field,
                        format!(
                            "the hostfs path `{}` must use only {SAFE_PATH}",
                            full.escape_debug()
                        ),
                    );
                }
            }
        }
        for (name, rules) in [
            ("nftables", &mut node.nftables),
            ("iptables", &mut node.iptables),
            ("ip6tables", &mut node.ip6tables),
        ] {
            if let Some(text) = rules.as_mut() {
                self.ruleset(&join(path, name), name, text);
            }
        }
        let files_path = join(path, "files");
        if !self.spans.is_bad(&files_path) {
            for (i, f) in node.files.iter_mut().enumerate() {
                let fpath = index(&files_path, i);
                let src_field = join(&fpath, "src");
                if let Some(full) = self.existing(&src_field, &f.src, false, "the source file") {
                    self.inside_topology(&src_field, Path::new(&full), "the source file");
                    if std::fs::File::open(&full).is_ok() {
                        f.src = full;
                    } else {
                        self.at_value(
                            &src_field,
                            format!(
                                "the source file `{full}` is not readable: fix its permissions"
                            ),
                        );
                    }
                }
                let dst_ok = f.dst.starts_with('/')
                    && f.dst.len() > 1
                    && is_safe_path(&f.dst)
                    && !f.dst.split('/').any(|s| s == "." || s == "..");
                if !dst_ok {
                    self.at_value(
                        &join(&fpath, "dst"),
                        format!("`{}` is not a usable guest path: write an absolute path of letters, digits and `/._+-`, without `.` or `..` parts, such as /etc/motd", f.dst.escape_debug()),
                    );
                }
                if let Some(mode) = &f.mode {
                    if parse_mode(mode).is_none() {
                        self.at_value(
                            &join(&fpath, "mode"),
                            format!("`{}` is not a file mode: write octal permission bits from 0 to 7777 as text, such as \"0644\"", mode.escape_debug()),
                        );
                    }
                }
            }
        }
        let cpus_path = join(path, "cpus");
        if let Some(cpus) = &node.cpus {
            if !self.spans.is_bad(&cpus_path) {
                if cpus.is_empty() {
                    self.at_value(&cpus_path, "the CPU list is empty: name at least one host CPU, such as [1], or remove `cpus`");
                }
                let mut seen = BTreeSet::new();
                for (i, cpu) in cpus.iter().enumerate() {
                    let cpath = index(&cpus_path, i);
                    if *cpu >= MAX_CPUS {
                        self.at_value(
                            &cpath,
                            format!("CPU {cpu} is out of range: give CPU numbers below {MAX_CPUS}"),
                        );
                    } else if !seen.insert(*cpu) {
                        self.at_value(
                            &cpath,
                            format!("CPU {cpu} is listed twice: list each CPU once"),
                        );
                    }
                }
            }
        }
    }

    /// Checks every link; returns the endpoints in use, or `None` if some endpoint failed to
    /// decode (then nothing can be said about unused interfaces).
    fn links(
        &mut self,
        topo: &Topology,
        kinds: &HashMap<String, NodeKind>,
    ) -> Option<BTreeSet<Endpoint>> {
        let mut used: HashMap<&Endpoint, String> = HashMap::new();
        let mut complete = !self.spans.is_bad("links");
        let nodes_known = !self.spans.is_bad("nodes");
        for (i, link) in topo.links.iter().enumerate() {
            let lpath = index("links", i);
            let epath = join(&lpath, "endpoints");
            if self.spans.is_bad(&epath) {
                complete = false;
            } else {
                // A `remote` that did not decode is still a remote end: its own error says why.
                if link.remote.is_some() || self.spans.is_bad(&join(&lpath, "remote")) {
                    if link.endpoints.len() != 1 {
                        self.at_value(
                            &epath,
                            format!("a link with `remote` has exactly one endpoint, this one has {}: write it as `[NODE:IFNAME]`, the remote end is the other", link.endpoints.len()),
                        );
                    }
                } else if link.endpoints.len() != 2 {
                    self.at_value(
                        &epath,
                        format!("a link has exactly two endpoints, this one has {}: write them as `[NODE:IFNAME, NODE:IFNAME]` (or one endpoint and a `remote:` tunnel end)", link.endpoints.len()),
                    );
                }
                for (j, ep) in link.endpoints.iter().enumerate() {
                    let path = index(&epath, j);
                    if let Some(first) = used.get(ep) {
                        let line = self.spans.value(first).line;
                        self.at_value(
                            &path,
                            format!("endpoint `{ep}` is already used by {first} (line {line}): an interface joins one link only"),
                        );
                        continue;
                    }
                    used.insert(ep, path.clone());
                    if ep.is_root() {
                        if !self.access.host_interfaces {
                            self.at_value(
                                &path,
                                format!("`{ep}` puts an interface into the host's root namespace, where the host's own traffic is: allow it with `host_access: {{host_interfaces: true}}`, or connect a host node (`kind: host`) instead"),
                            );
                        }
                        if !is_valid_ifname(&ep.interface) {
                            self.at_value(
                                &path,
                                format!("`{}` is not a valid host interface name: use 1 to 15 letters, digits, `-`, `_` or `.`", ep.interface.escape_debug()),
                            );
                        }
                    } else if let Some(kind) = kinds.get(&ep.node) {
                        self.ifname_rules(&path, &ep.interface, *kind, true);
                    } else if nodes_known {
                        let mut names: Vec<&str> = topo.nodes.keys().map(String::as_str).collect();
                        names.push(Endpoint::ROOT);
                        self.at_value(
                            &path,
                            format!("there is no node `{}`: use one of {} (`host` is the root namespace)", ep.node.escape_debug(), names.join(", ")),
                        );
                    }
                }
                if link.endpoints.len() == 2 && link.endpoints.iter().all(Endpoint::is_root) {
                    self.at_value(&epath, "both endpoints are `host:`: a link needs at least one lab node; connect a node, such as `[r1:eth0, host:lab0]`");
                }
            }
            let has_uml = link
                .endpoints
                .iter()
                .any(|e| !e.is_root() && kinds.get(&e.node) == Some(&NodeKind::Uml));
            let transport = link.effective_transport();
            let datapath_only = transport == Transport::Wire || link.remote.is_some();
            if !has_uml && !datapath_only && !self.spans.is_bad(&epath) && link.endpoints.len() == 2
            {
                for (field, set) in [
                    ("transport", link.transport.is_some()),
                    ("depth", link.depth.is_some()),
                    ("gro", link.gro.is_some()),
                ] {
                    if set {
                        self.at_key(
                            &join(&lpath, field),
                            format!("`{field}` configures a uml guest's vector interface, and neither end of this link is a uml node (such links are plain veth pairs): remove it"),
                        );
                    }
                }
            }
            if let Some(depth) = link.depth {
                if !(1..=2048).contains(&depth) {
                    self.at_value(&join(&lpath, "depth"), format!("depth {depth} is out of range: give 1 to 2048 packets per batch (UML's default is 64)"));
                }
            }
            if let Some(bridge) = &link.bridge {
                let bpath = join(&lpath, "bridge");
                if !matches!(transport, Transport::Tap | Transport::Hybrid)
                    && !self.spans.is_bad(&join(&lpath, "transport"))
                {
                    self.at_key(&bpath, format!("`bridge` needs `transport: tap` or `transport: hybrid`: {} links join no bridge", transport.name()));
                }
                if !is_valid_ifname(bridge) {
                    self.at_value(&bpath, format!("`{}` is not a valid bridge name: use 1 to 15 letters, digits, `-`, `_` or `.`", bridge.escape_debug()));
                }
            }
        }
        for (i, link) in topo.links.iter().enumerate() {
            self.tunnel_rules(topo, link, &index("links", i));
        }
        complete.then(|| used.into_keys().cloned().collect())
    }

    fn unlinked_interfaces(&mut self, topo: &Topology, used: &BTreeSet<Endpoint>) {
        for (name, node) in &topo.nodes {
            for ifname in node.interfaces.keys() {
                let ep = Endpoint {
                    node: name.clone(),
                    interface: ifname.clone(),
                };
                if !used.contains(&ep) {
                    self.at_key(
                        &format!("nodes.{name}.interfaces.{ifname}"),
                        format!("interface `{ep}` is on no link: add a link with the endpoint `{ep}`, or remove the interface"),
                    );
                }
            }
        }
    }

    fn duplicate_addresses(&mut self, topo: &Topology) {
        let mut macs: Vec<(Pos, String, MacAddr)> = Vec::new();
        let mut ips: Vec<(Pos, String, IpAddr)> = Vec::new();
        for (name, node) in &topo.nodes {
            for (ifname, iface) in &node.interfaces {
                let ipath = format!("nodes.{name}.interfaces.{ifname}");
                if let Some(mac) = iface.mac {
                    let p = join(&ipath, "mac");
                    macs.push((self.spans.value(&p), p, mac));
                }
                let v4 = iface.ipv4.iter().map(|n| IpAddr::V4(n.addr()));
                let v6 = iface.ipv6.iter().map(|n| IpAddr::V6(n.addr()));
                let n4 = iface.ipv4.len();
                for (k, addr) in v4.chain(v6).enumerate() {
                    let p = if k < n4 {
                        index(&join(&ipath, "ipv4"), k)
                    } else {
                        index(&join(&ipath, "ipv6"), k - n4)
                    };
                    ips.push((self.spans.value(&p), p, addr));
                }
            }
        }
        macs.sort();
        ips.sort();
        let mut first_mac: HashMap<MacAddr, (Pos, String)> = HashMap::new();
        for (pos, path, mac) in macs {
            match first_mac.get(&mac) {
                Some((fpos, fpath)) => {
                    let msg = format!("MAC address {mac} is already used by {fpath} (line {}): give every interface its own", fpos.line);
                    self.sink.error(pos, &path, msg);
                }
                None => {
                    first_mac.insert(mac, (pos, path));
                }
            }
        }
        let mut first_ip: HashMap<IpAddr, (Pos, String)> = HashMap::new();
        for (pos, path, ip) in ips {
            match first_ip.get(&ip) {
                Some((fpos, fpath)) => {
                    let msg = format!("address {ip} is already used by {fpath} (line {}): give every interface its own addresses", fpos.line);
                    self.sink.error(pos, &path, msg);
                }
                None => {
                    first_ip.insert(ip, (pos, path));
                }
            }
        }
    }

    fn route_devices(&mut self, name: &str, node: &Node, used: &Option<BTreeSet<Endpoint>>) {
        let rpath = format!("nodes.{name}.routes");
        let Some(used) = used else { return };
        if self.spans.is_bad(&rpath) {
            return;
        }
        for (i, route) in node.routes.iter().enumerate() {
            let Some(dev) = &route.dev else { continue };
            let known = dev == "lo"
                || node.interfaces.contains_key(dev)
                || used.iter().any(|e| e.node == name && &e.interface == dev);
            if !known {
                self.at_value(
                    &index(&rpath, i),
                    format!("node `{name}` has no interface `{dev}`: route through one of its interfaces (declared or on a link) or `lo`"),
                );
            }
        }
    }
}
