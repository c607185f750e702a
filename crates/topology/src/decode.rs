//! The located tree to the typed model, reporting every unknown field, duplicate key and
//! wrongly typed value at once.
//!
//! Fields that fail to decode are left at their defaults and marked bad in the span index, so
//! that semantic validation can still run on the rest without repeating the same problem.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use ipnet::{Ipv4Net, Ipv6Net};

use crate::diagnostic::{Pos, Sink};
use crate::field_names::field_names;
use crate::model::*;
use crate::spans::{index, join, Spans};
use crate::tree::{Entry, YNode, YValue};
use crate::tunnel::*;

/// Decodes the whole tree (or `None` for an empty file) into a topology, which is partial when
/// problems were recorded in `sink`.
pub(crate) fn decode(root: Option<&YNode>, sink: &mut Sink, spans: &mut Spans) -> Topology {
    let mut d = Decoder { sink, spans };
    let mut topo = Topology {
        name: String::new(),
        defaults: NodeDefaults::default(),
        nodes: BTreeMap::new(),
        links: Vec::new(),
        metrics: None,
        host_access: HostAccess::default(),
        hosts: BTreeMap::new(),
    };
    let Some(root) = root else {
        d.sink.error(
            Pos::START,
            "",
            "the file is empty: a topology needs at least `name` and `nodes`",
        );
        d.spans.mark_bad("name");
        d.spans.mark_bad("nodes");
        return topo;
    };
    let Some(fields) = d.fields_of::<Topology>(root, "", "a topology") else {
        d.spans.mark_bad("name");
        d.spans.mark_bad("nodes");
        return topo;
    };
    for (key, value, path) in &fields {
        match *key {
            "name" => topo.name = d.string(value, path).unwrap_or_default(),
            "defaults" => topo.defaults = d.defaults(value, path),
            "metrics" => topo.metrics = d.metrics(value, path),
            "host_access" => topo.host_access = d.host_access(value, path),
            "hosts" => {
                if let Some(entries) = d.entries(value, path, "hosts by name") {
                    for (name, host, hpath) in entries {
                        if let Some(h) = d.host_spec(host, &hpath) {
                            topo.hosts.insert(name.to_string(), h);
                        }
                    }
                }
            }
            "nodes" => {
                if let Some(entries) = d.entries(value, path, "nodes by name") {
                    for (name, node, npath) in entries {
                        let n = d.node(node, &npath);
                        topo.nodes.insert(name.to_string(), n);
                    }
                }
            }
            "links" => {
                if let Some(items) = d.items(value, path, "links") {
                    for (i, item) in items.iter().enumerate() {
                        let lpath = index(path, i);
                        topo.links.push(d.link(item, &lpath));
                    }
                }
            }
            _ => {}
        }
    }
    d.require(
        root,
        "",
        &fields,
        "name",
        "the lab name, such as `name: lab1`",
    );
    d.require(
        root,
        "",
        &fields,
        "nodes",
        "a mapping of node names to nodes, such as `nodes: {r1: {}}`",
    );
    topo
}

struct Decoder<'a> {
    sink: &'a mut Sink,
    spans: &'a mut Spans,
}

type Fields<'n> = Vec<(&'n str, &'n YNode, String)>;

impl Decoder<'_> {
    fn error(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.sink.error(pos, path, message);
        self.spans.mark_bad(path);
    }

    /// The unique entries of a mapping; reports duplicates and a non-mapping value.
    fn entries<'n>(&mut self, node: &'n YNode, path: &str, what: &str) -> Option<Fields<'n>> {
        self.spans.value_at(path, node.pos);
        let YValue::Map(entries) = &node.value else {
            let found = node.describe();
            let hint = if Self::is_null(node) {
                "; write `{}` for none"
            } else {
                ""
            };
            self.error(
                node.pos,
                path,
                format!("expected {what} here, found {found}{hint}"),
            );
            return None;
        };
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        let mut out = Vec::new();
        for Entry {
            key,
            key_pos,
            value,
        } in entries
        {
            let kpath = join(path, key);
            if let Some(first) = seen.get(key.as_str()) {
                let line = first.line;
                self.sink.error(
                    *key_pos,
                    &kpath,
                    format!("`{key}` is given twice (first on line {line}); keep only one"),
                );
                continue;
            }
            seen.insert(key, *key_pos);
            self.spans.key_at(&kpath, *key_pos);
            self.spans.value_at(&kpath, value.pos);
            out.push((key.as_str(), value, kpath));
        }
        Some(out)
    }

    /// Like `entries`, for a struct: also reports unknown fields, listing the valid ones.
    /// The fields of a mapping that decodes into `T`, refusing keys `T` does not have.
    fn fields_of<'n, T: for<'de> serde::Deserialize<'de>>(
        &mut self,
        node: &'n YNode,
        path: &str,
        what: &str,
    ) -> Option<Fields<'n>> {
        self.fields(node, path, what, field_names::<T>())
    }

    fn fields<'n>(
        &mut self,
        node: &'n YNode,
        path: &str,
        what: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let entries = self.entries(node, path, &format!("the fields of {what} (a mapping)"))?;
        let mut out = Vec::new();
        for (key, value, kpath) in entries {
            if allowed.contains(&key) {
                out.push((key, value, kpath));
            } else {
                let pos = self.spans.key(&kpath);
                self.sink.error(
                    pos,
                    &kpath,
                    format!(
                        "unknown field `{key}`: {what} has the fields {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(out)
    }

    fn require(&mut self, node: &YNode, path: &str, fields: &Fields<'_>, name: &str, what: &str) {
        if !fields.iter().any(|(k, _, _)| *k == name) {
            let fpath = join(path, name);
            self.error(
                node.pos,
                &fpath,
                format!("the field `{name}` is missing: it needs {what}"),
            );
        }
    }

    fn items<'n>(&mut self, node: &'n YNode, path: &str, what: &str) -> Option<&'n [YNode]> {
        self.spans.value_at(path, node.pos);
        match &node.value {
            YValue::Seq(items) => Some(items),
            _ => {
                let found = node.describe();
                let hint = if Self::is_null(node) {
                    "; write `[]` for none"
                } else {
                    ""
                };
                self.error(
                    node.pos,
                    path,
                    format!("expected a list of {what} here, found {found}{hint}"),
                );
                None
            }
        }
    }

    /// True for a null value (the caller then leaves an optional field unset).
    fn is_null(node: &YNode) -> bool {
        matches!(&node.value, YValue::Scalar(s) if s.is_null())
    }

    fn string(&mut self, node: &YNode, path: &str) -> Option<String> {
        self.spans.value_at(path, node.pos);
        match &node.value {
            YValue::Scalar(s) if !s.is_null() => Some(s.text.clone()),
            _ => {
                let found = node.describe();
                self.error(node.pos, path, format!("expected text here, found {found}"));
                None
            }
        }
    }

    fn opt_string(&mut self, node: &YNode, path: &str) -> Option<String> {
        if Self::is_null(node) {
            return None;
        }
        self.string(node, path)
    }

    fn parse<T>(&mut self, node: &YNode, path: &str) -> Option<T>
    where
        T: FromStr<Err = ValueError>,
    {
        let text = self.string(node, path)?;
        match text.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(node.pos, path, e.message);
                None
            }
        }
    }

    fn number(&mut self, node: &YNode, path: &str, what: &str) -> Option<u64> {
        self.spans.value_at(path, node.pos);
        let text = match &node.value {
            YValue::Scalar(s) if !s.is_null() => s.text.clone(),
            _ => {
                let found = node.describe();
                self.error(
                    node.pos,
                    path,
                    format!("expected {what} here, found {found}"),
                );
                return None;
            }
        };
        let t = text.trim();
        let parsed = if let Some(hex) = t.strip_prefix("0x") {
            u64::from_str_radix(hex, 16).ok()
        } else if let Some(oct) = t.strip_prefix("0o") {
            u64::from_str_radix(oct, 8).ok()
        } else if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        };
        if parsed.is_none() {
            self.error(
                node.pos,
                path,
                format!("`{}` is not a whole number: write {what}", t.escape_debug()),
            );
        }
        parsed
    }

    fn u32(&mut self, node: &YNode, path: &str, what: &str) -> Option<u32> {
        let n = self.number(node, path, what)?;
        match u32::try_from(n) {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(
                    node.pos,
                    path,
                    format!("{n} is far too large: write {what}"),
                );
                None
            }
        }
    }

    fn opt_u32(&mut self, node: &YNode, path: &str, what: &str) -> Option<u32> {
        if Self::is_null(node) {
            return None;
        }
        self.u32(node, path, what)
    }

    fn opt_bool(&mut self, node: &YNode, path: &str) -> Option<bool> {
        if Self::is_null(node) {
            return None;
        }
        let text = self.string(node, path)?;
        match text.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => {
                self.error(
                    node.pos,
                    path,
                    format!(
                        "expected `true` or `false` here, found `{}`",
                        text.escape_debug()
                    ),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, node: &YNode, path: &str, choices: &[(&str, T)]) -> Option<T> {
        if Self::is_null(node) {
            return None;
        }
        let text = self.string(node, path)?;
        if let Some((_, v)) = choices.iter().find(|(name, _)| *name == text) {
            return Some(*v);
        }
        let names: Vec<String> = choices.iter().map(|(n, _)| format!("`{n}`")).collect();
        self.error(
            node.pos,
            path,
            format!(
                "`{}` is not valid here: write one of {}",
                text.escape_debug(),
                names.join(", ")
            ),
        );
        None
    }

    fn kind(&mut self, node: &YNode, path: &str) -> Option<NodeKind> {
        self.choice(
            node,
            path,
            &[("uml", NodeKind::Uml), ("host", NodeKind::Host)],
        )
    }

    fn restart(&mut self, node: &YNode, path: &str) -> Option<RestartPolicy> {
        self.choice(
            node,
            path,
            &[
                ("no", RestartPolicy::No),
                ("on-failure", RestartPolicy::OnFailure),
                ("always", RestartPolicy::Always),
            ],
        )
    }

    fn vcpus(&mut self, node: &YNode, path: &str) -> Option<u32> {
        if Self::is_null(node) {
            return None;
        }
        self.u32(node, path, "a number of virtual CPUs from 1 to 8")
    }

    fn userspace(&mut self, node: &YNode, path: &str) -> Option<Userspace> {
        self.choice(
            node,
            path,
            &[
                ("seccomp", Userspace::Seccomp),
                ("ptrace", Userspace::Ptrace),
            ],
        )
    }

    fn clock(&mut self, node: &YNode, path: &str) -> Option<Clock> {
        self.choice(
            node,
            path,
            &[("real", Clock::Real), ("virtual", Clock::Virtual)],
        )
    }

    fn memory(&mut self, node: &YNode, path: &str) -> Option<Memory> {
        if Self::is_null(node) {
            return None;
        }
        self.parse(node, path)
    }

    fn defaults(&mut self, node: &YNode, path: &str) -> NodeDefaults {
        let mut out = NodeDefaults::default();
        let Some(fields) = self.fields_of::<NodeDefaults>(node, path, "the defaults section")
        else {
            return out;
        };
        for (key, value, fpath) in &fields {
            match *key {
                "kind" => out.kind = self.kind(value, fpath),
                "image" => out.image = self.opt_string(value, fpath),
                "kernel" => out.kernel = self.opt_string(value, fpath),
                "memory" => out.memory = self.memory(value, fpath),
                "restart" => out.restart = self.restart(value, fpath),
                "vcpus" => out.vcpus = self.vcpus(value, fpath),
                "userspace" => out.userspace = self.userspace(value, fpath),
                "clock" => out.clock = self.clock(value, fpath),
                _ => {}
            }
        }
        out
    }

    fn host_spec(&mut self, node: &YNode, path: &str) -> Option<HostSpec> {
        let fields = self.fields_of::<HostSpec>(node, path, "a host")?;
        let mut address = None;
        let mut capacity = None;
        for (key, value, fpath) in &fields {
            match *key {
                "address" => address = self.ip(value, fpath),
                "capacity" => capacity = self.u32(value, fpath, "a number of nodes such as 4"),
                _ => {}
            }
        }
        self.require(
            node,
            path,
            &fields,
            "address",
            "the host's underlay address, such as `address: 192.0.2.1`",
        );
        address.map(|address| HostSpec { address, capacity })
    }

    fn host_access(&mut self, node: &YNode, path: &str) -> HostAccess {
        let mut out = HostAccess::default();
        if Self::is_null(node) {
            return out;
        }
        let Some(fields) = self.fields_of::<HostAccess>(node, path, "the host_access section")
        else {
            return out;
        };
        for (key, value, fpath) in &fields {
            let on = self.opt_bool(value, fpath).unwrap_or(false);
            match *key {
                "host_files" => out.host_files = on,
                "host_interfaces" => out.host_interfaces = on,
                "public_metrics" => out.public_metrics = on,
                _ => {}
            }
        }
        out
    }

    fn metrics(&mut self, node: &YNode, path: &str) -> Option<MetricsConfig> {
        if Self::is_null(node) {
            return None;
        }
        let mut out = MetricsConfig::default();
        let fields = self.fields_of::<MetricsConfig>(node, path, "the metrics section")?;
        for (key, value, fpath) in &fields {
            match *key {
                "listen" => {
                    let text = self.string(value, fpath)?;
                    match text.parse() {
                        Ok(addr) => out.listen = Some(addr),
                        Err(_) => self.error(
                            value.pos,
                            fpath,
                            format!("`{text}` is not a listen address: write IP:PORT, such as 127.0.0.1:9477 or [::1]:9477"),
                        ),
                    }
                }
                "disabled" => out.disabled = self.opt_bool(value, fpath),
                _ => {}
            }
        }
        Some(out)
    }

    fn strings(&mut self, node: &YNode, path: &str, what: &str) -> Vec<String> {
        let Some(items) = self.items(node, path, what) else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.string(item, &index(path, i)))
            .collect()
    }

    fn node(&mut self, node: &YNode, path: &str) -> Node {
        let mut out = Node::default();
        let Some(fields) = self.fields_of::<Node>(node, path, "a node") else {
            return out;
        };
        for (key, value, fpath) in &fields {
            let (value, fpath) = (*value, fpath.as_str());
            match *key {
                "kind" => out.kind = self.kind(value, fpath),
                "image" => out.image = self.opt_string(value, fpath),
                "kernel" => out.kernel = self.opt_string(value, fpath),
                "memory" => out.memory = self.memory(value, fpath),
                "interfaces" => {
                    if let Some(entries) =
                        self.entries(value, fpath, "a mapping of interfaces by name")
                    {
                        for (name, iface, ipath) in entries {
                            let i = self.interface(iface, &ipath);
                            out.interfaces.insert(name.to_string(), i);
                        }
                    }
                }
                "routes" => {
                    if let Some(items) = self.items(value, fpath, "routes") {
                        for (i, item) in items.iter().enumerate() {
                            if let Some(r) = self.parse(item, &index(fpath, i)) {
                                out.routes.push(r);
                            }
                        }
                    }
                }
                "sysctls" => {
                    if let Some(entries) =
                        self.entries(value, fpath, "a mapping of sysctl names to values")
                    {
                        for (name, v, spath) in entries {
                            if let Some(v) = self.sysctl_value(v, &spath) {
                                out.sysctls.insert(name.to_string(), v);
                            }
                        }
                    }
                }
                "nftables" => out.nftables = self.opt_string(value, fpath),
                "iptables" => out.iptables = self.opt_string(value, fpath),
                "ip6tables" => out.ip6tables = self.opt_string(value, fpath),
                "exec" => out.exec = self.strings(value, fpath, "shell commands"),
                "files" => {
                    if let Some(items) = self.items(value, fpath, "files") {
                        for (i, item) in items.iter().enumerate() {
                            if let Some(f) = self.file_copy(item, &index(fpath, i)) {
                                out.files.push(f);
                            }
                        }
                    }
                }
                "restart" => out.restart = self.restart(value, fpath),
                "cpus" if !Self::is_null(value) => {
                    if let Some(items) = self.items(value, fpath, "CPU numbers") {
                        let cpus = items
                            .iter()
                            .enumerate()
                            .filter_map(|(i, item)| {
                                self.u32(item, &index(fpath, i), "a CPU number such as 1")
                            })
                            .collect();
                        out.cpus = Some(cpus);
                    }
                }
                "hostfs" => out.hostfs = self.opt_string(value, fpath),
                "vcpus" => out.vcpus = self.vcpus(value, fpath),
                "userspace" => out.userspace = self.userspace(value, fpath),
                "clock" => out.clock = self.clock(value, fpath),
                "host" => out.host = self.opt_string(value, fpath),
                _ => {}
            }
        }
        out
    }

    fn sysctl_value(&mut self, node: &YNode, path: &str) -> Option<SysctlValue> {
        self.spans.value_at(path, node.pos);
        let YValue::Scalar(s) = &node.value else {
            let found = node.describe();
            self.error(
                node.pos,
                path,
                format!("expected a sysctl value (a number, true/false or text), found {found}"),
            );
            return None;
        };
        if s.is_null() {
            self.error(
                node.pos,
                path,
                "this sysctl has no value: write a number, true/false or text, such as 1",
            );
            return None;
        }
        if !s.plain {
            return Some(SysctlValue::Text(s.text.clone()));
        }
        if let Ok(i) = s.text.parse::<i64>() {
            return Some(SysctlValue::Int(i));
        }
        match s.text.as_str() {
            "true" | "True" | "TRUE" => return Some(SysctlValue::Bool(true)),
            "false" | "False" | "FALSE" => return Some(SysctlValue::Bool(false)),
            _ => {}
        }
        if s.text.parse::<f64>().is_ok()
            || s.text
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
        {
            self.error(
                node.pos,
                path,
                format!(
                    "`{}` is not a whole number that fits in 64 bits: quote it to pass it as text, such as \"{}\"",
                    s.text.escape_debug(),
                    s.text.escape_debug()
                ),
            );
            return None;
        }
        Some(SysctlValue::Text(s.text.clone()))
    }

    fn file_copy(&mut self, node: &YNode, path: &str) -> Option<FileCopy> {
        let fields = self.fields_of::<FileCopy>(node, path, "a file copy")?;
        let mut src = None;
        let mut dst = None;
        let mut mode = None;
        for (key, value, fpath) in &fields {
            match *key {
                "src" => src = self.string(value, fpath),
                "dst" => dst = self.string(value, fpath),
                "mode" => mode = self.opt_string(value, fpath),
                _ => {}
            }
        }
        self.require(
            node,
            path,
            &fields,
            "src",
            "the host file to copy, relative to the topology file",
        );
        self.require(
            node,
            path,
            &fields,
            "dst",
            "the absolute path inside the guest, such as /etc/motd",
        );
        Some(FileCopy {
            src: src?,
            dst: dst?,
            mode,
        })
    }

    fn interface(&mut self, node: &YNode, path: &str) -> Interface {
        let mut out = Interface::default();
        let Some(fields) = self.fields_of::<Interface>(node, path, "an interface") else {
            return out;
        };
        for (key, value, fpath) in &fields {
            let (value, fpath) = (*value, fpath.as_str());
            match *key {
                "ipv4" => {
                    if let Some(items) = self.items(value, fpath, "IPv4 addresses") {
                        for (i, item) in items.iter().enumerate() {
                            let ipath = index(fpath, i);
                            if let Some(text) = self.string(item, &ipath) {
                                match Ipv4Net::from_str(text.trim()) {
                                    Ok(net) => out.ipv4.push(net),
                                    Err(_) => self.error(
                                        item.pos,
                                        &ipath,
                                        format!("`{}` is not an IPv4 address with a prefix length: write one such as 10.1.0.1/24", text.escape_debug()),
                                    ),
                                }
                            }
                        }
                    }
                }
                "ipv6" => {
                    if let Some(items) = self.items(value, fpath, "IPv6 addresses") {
                        for (i, item) in items.iter().enumerate() {
                            let ipath = index(fpath, i);
                            if let Some(text) = self.string(item, &ipath) {
                                match Ipv6Net::from_str(text.trim()) {
                                    Ok(net) => out.ipv6.push(net),
                                    Err(_) => self.error(
                                        item.pos,
                                        &ipath,
                                        format!("`{}` is not an IPv6 address with a prefix length: write one such as fd00:1::1/64", text.escape_debug()),
                                    ),
                                }
                            }
                        }
                    }
                }
                "mtu" => out.mtu = self.opt_u32(value, fpath, "an MTU such as 1500"),
                "mac" if !Self::is_null(value) => out.mac = self.parse(value, fpath),
                _ => {}
            }
        }
        out
    }

    fn link(&mut self, node: &YNode, path: &str) -> Link {
        let mut out = Link::default();
        let Some(fields) = self.fields_of::<Link>(node, path, "a link") else {
            return out;
        };
        for (key, value, fpath) in &fields {
            let (value, fpath) = (*value, fpath.as_str());
            match *key {
                "endpoints" => {
                    if let Some(items) = self.items(value, fpath, "two endpoints") {
                        for (i, item) in items.iter().enumerate() {
                            if let Some(e) = self.parse(item, &index(fpath, i)) {
                                out.endpoints.push(e);
                            }
                        }
                    }
                }
                "transport" => {
                    out.transport = self.choice(
                        value,
                        fpath,
                        &[
                            ("raw", Transport::Raw),
                            ("tap", Transport::Tap),
                            ("hybrid", Transport::Hybrid),
                            ("gre", Transport::Gre),
                            ("l2tpv3", Transport::L2tpv3),
                            ("wire", Transport::Wire),
                        ],
                    )
                }
                "gre" if !Self::is_null(value) => out.gre = self.gre(value, fpath),
                "l2tpv3" if !Self::is_null(value) => out.l2tpv3 = self.l2tpv3(value, fpath),
                "remote" if !Self::is_null(value) => out.remote = self.remote(value, fpath),
                "wire" if !Self::is_null(value) => out.wire = self.wire(value, fpath),
                "impair" if !Self::is_null(value) => out.impair = self.impairments(value, fpath),
                "filter" => {
                    if let Some(entries) = self.entries(
                        value,
                        fpath,
                        "a mapping of endpoints to pcap filter expressions",
                    ) {
                        for (key, v, kpath) in entries {
                            let ep = match key.parse::<Endpoint>() {
                                Ok(ep) => ep,
                                Err(e) => {
                                    let pos = self.spans.key(&kpath);
                                    self.error(pos, &kpath, e.message);
                                    continue;
                                }
                            };
                            if let Some(expr) = self.string(v, &kpath) {
                                out.filter.insert(ep, expr);
                            }
                        }
                    }
                }
                "bpfflash" => out.bpfflash = self.opt_bool(value, fpath),
                "depth" => out.depth = self.opt_u32(value, fpath, "a vector depth from 1 to 2048"),
                "gro" => out.gro = self.opt_bool(value, fpath),
                "bridge" => out.bridge = self.opt_string(value, fpath),
                _ => {}
            }
        }
        self.require(
            node,
            path,
            &fields,
            "endpoints",
            "two endpoints, such as `endpoints: [r1:eth0, h1:eth0]`",
        );
        out
    }

    fn opt_parse<T>(&mut self, node: &YNode, path: &str) -> Option<T>
    where
        T: FromStr<Err = ValueError>,
    {
        if Self::is_null(node) {
            return None;
        }
        self.parse(node, path)
    }

    fn opt_u16(&mut self, node: &YNode, path: &str, what: &str) -> Option<u16> {
        let n = self.opt_u32(node, path, what)?;
        match u16::try_from(n) {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(node.pos, path, format!("{n} is too large: write {what}"));
                None
            }
        }
    }

    fn gre(&mut self, node: &YNode, path: &str) -> Option<GreOptions> {
        let fields = self.fields_of::<GreOptions>(node, path, "the gre section")?;
        let mut out = GreOptions::default();
        for (key, value, fpath) in &fields {
            let (value, fpath) = (*value, fpath.as_str());
            match *key {
                "key" => out.key = self.opt_parse(value, fpath),
                "rx_key" => out.rx_key = self.opt_parse(value, fpath),
                "tx_key" => out.tx_key = self.opt_parse(value, fpath),
                "sequence" => out.sequence = self.opt_bool(value, fpath),
                _ => {}
            }
        }
        Some(out)
    }

    fn l2tpv3(&mut self, node: &YNode, path: &str) -> Option<L2tpv3Options> {
        let fields = self.fields_of::<L2tpv3Options>(node, path, "the l2tpv3 section")?;
        let mut out = L2tpv3Options::default();
        for (key, value, fpath) in &fields {
            let (value, fpath) = (*value, fpath.as_str());
            match *key {
                "mode" => {
                    out.mode = self.choice(
                        value,
                        fpath,
                        &[("udp", L2tpMode::Udp), ("ip", L2tpMode::Ip)],
                    )
                }
                "session" => out.session = self.opt_parse(value, fpath),
                "rx_session" => out.rx_session = self.opt_parse(value, fpath),
                "tx_session" => out.tx_session = self.opt_parse(value, fpath),
                "cookie" => out.cookie = self.opt_parse(value, fpath),
                "rx_cookie" => out.rx_cookie = self.opt_parse(value, fpath),
                "tx_cookie" => out.tx_cookie = self.opt_parse(value, fpath),
                "cookie64" => out.cookie64 = self.opt_bool(value, fpath),
                "counter" => out.counter = self.opt_bool(value, fpath),
                _ => {}
            }
        }
        Some(out)
    }

    fn ip(&mut self, node: &YNode, path: &str) -> Option<std::net::IpAddr> {
        if Self::is_null(node) {
            return None;
        }
        let text = self.string(node, path)?;
        match text.trim().parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.error(
                    node.pos,
                    path,
                    format!(
                        "`{}` is not an IP address: write one such as 127.0.0.9 or fd00::9",
                        text.escape_debug()
                    ),
                );
                None
            }
        }
    }

    fn remote(&mut self, node: &YNode, path: &str) -> Option<RemoteEnd> {
        let fields = self.fields_of::<RemoteEnd>(node, path, "a remote tunnel end")?;
        let mut address = None;
        let mut out = RemoteEnd {
            address: std::net::IpAddr::from([0, 0, 0, 0]),
            port: None,
            local: None,
            local_port: None,
            peer: None,
        };
        for (key, value, fpath) in &fields {
            let (value, fpath) = (*value, fpath.as_str());
            match *key {
                "address" => address = self.ip(value, fpath),
                "port" => out.port = self.opt_u16(value, fpath, "a UDP port from 1 to 65535"),
                "local" => out.local = self.ip(value, fpath),
                "local_port" => {
                    out.local_port = self.opt_u16(value, fpath, "a UDP port from 1 to 65535")
                }
                _ => {}
            }
        }
        self.require(
            node,
            path,
            &fields,
            "address",
            "the remote tunnel address, such as `address: 127.0.0.9`",
        );
        out.address = address?;
        Some(out)
    }

    fn wire(&mut self, node: &YNode, path: &str) -> Option<WireOptions> {
        let fields = self.fields_of::<WireOptions>(node, path, "the wire section")?;
        let mut out = WireOptions::default();
        for (key, value, fpath) in &fields {
            let (value, fpath) = (*value, fpath.as_str());
            match *key {
                "attach" => {
                    out.attach = self.choice(
                        value,
                        fpath,
                        &[("bess", WireAttach::Bess), ("l2tpv3", WireAttach::L2tpv3)],
                    )
                }
                "backend" => {
                    out.backend = self.choice(
                        value,
                        fpath,
                        &[
                            ("mmsg", WireBackend::Mmsg),
                            ("io_uring", WireBackend::IoUring),
                        ],
                    )
                }
                "host_end" => {
                    out.host_end = self.choice(
                        value,
                        fpath,
                        &[("veth", WireHostEnd::Veth), ("tap", WireHostEnd::Tap)],
                    )
                }
                _ => {}
            }
        }
        Some(out)
    }

    fn impairment(&mut self, node: &YNode, path: &str) -> Impairment {
        let mut out = Impairment::default();
        let Some(fields) = self.fields_of::<Impairment>(node, path, "an impairment") else {
            return out;
        };
        for (key, value, fpath) in &fields {
            let (value, fpath) = (*value, fpath.as_str());
            match *key {
                "loss" => out.loss = self.opt_parse(value, fpath),
                "delay" => out.delay = self.opt_parse(value, fpath),
                "jitter" => out.jitter = self.opt_parse(value, fpath),
                "rate" => out.rate = self.opt_parse(value, fpath),
                "duplicate" => out.duplicate = self.opt_parse(value, fpath),
                "reorder" => out.reorder = self.opt_parse(value, fpath),
                _ => {}
            }
        }
        out
    }

    /// `impair:` holds either impairment fields (both directions) or endpoints (per sender).
    fn impairments(&mut self, node: &YNode, path: &str) -> Option<Impairments> {
        let per_end = match &node.value {
            YValue::Map(entries) => entries.iter().any(|e| e.key.contains(':')),
            _ => false,
        };
        if !per_end {
            return Some(Impairments::Both(self.impairment(node, path)));
        }
        let entries = self.entries(node, path, "impairments per endpoint (a mapping)")?;
        let mut map = BTreeMap::new();
        for (key, value, kpath) in entries {
            match key.parse::<Endpoint>() {
                Ok(ep) => {
                    let imp = self.impairment(value, &kpath);
                    map.insert(ep, imp);
                }
                Err(_) => {
                    let pos = self.spans.key(&kpath);
                    self.error(
                        pos,
                        &kpath,
                        format!("`{}` is neither an impairment field nor an endpoint: write either {} for both directions, or endpoints of the link (NODE:IFNAME) for the frames each one sends", key.escape_debug(), field_names::<Impairment>().join(", ")),
                    );
                }
            }
        }
        Some(Impairments::PerEnd(map))
    }
}
