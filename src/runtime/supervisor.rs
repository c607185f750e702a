//! A running lab: its guests, the control socket, restarts, and the orderly shutdown.

use std::collections::BTreeMap;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use umlvnf_topology::Impairment;

use crate::control::{
    self, ExecResult, LabStatus, NodeStatus, Reply, Request, WireDirection, WireStatus,
};
use crate::plan::Plan;
use crate::state::{GuestRecord, LabState, Phase};
use umlvnf_lab::{NodeKind, NodeState};

use super::guests::{Guest, GuestError, Notifier};
use super::host_objects;
use super::link_request::{check_wire, LinkRequestError};
use super::peer_watch::{PeerCounters, PeerWatch};
use super::progress::{Progress, INTERRUPTED};
use super::wires::Wires;
use super::RuntimeError;

/// A lab being held by this process.
pub struct Lab {
    plan: Plan,
    state: Mutex<LabState>,
    guests: BTreeMap<String, Arc<Guest>>,
    stopping: Arc<AtomicBool>,
    down_waiters: Mutex<Vec<UnixStream>>,
    wires: Wires,
    metrics: Mutex<Option<umlvnf_metrics::MetricsServer>>,
    peers: PeerWatch,
    _notifier: Notifier,
}

impl Lab {
    /// Binds the notify and control sockets and prepares the guests (nothing boots yet).
    pub fn start(plan: Plan, state: LabState) -> Result<Arc<Lab>, RuntimeError> {
        let stopping = Arc::new(AtomicBool::new(false));
        let notifier = Notifier::bind(&plan.lab_dir.join("notify.sock"))?;
        // Wires exist before guests boot: UML connects to their sockets.
        let wires = Wires::start(&plan)?;
        let mut guests = BTreeMap::new();
        for g in &plan.guests {
            let notices =
                notifier.subscribe(&plan.lab_dir.join("uml").join(&g.node).join("mconsole"));
            guests.insert(
                g.node.clone(),
                Arc::new(Guest::new(&plan, g.clone(), notices, stopping.clone())?),
            );
        }
        let peers = PeerWatch::of(&plan);
        let lab = Arc::new(Lab {
            plan,
            state: Mutex::new(state),
            guests,
            stopping,
            down_waiters: Mutex::new(Vec::new()),
            wires,
            metrics: Mutex::new(None),
            peers,
            _notifier: notifier,
        });
        let listener = UnixListener::bind(lab.plan.lab_dir.join("control.sock"))
            .map_err(RuntimeError::io("binding the control socket"))?;
        let weak = Arc::downgrade(&lab);
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let Some(lab) = weak.upgrade() else { break };
                    std::thread::spawn(move || lab.serve(conn));
                }
            })
            .map_err(RuntimeError::io("starting the control thread"))?;
        if !lab.peers.is_empty() {
            let weak = Arc::downgrade(&lab);
            std::thread::Builder::new()
                .name("peers".into())
                .spawn(move || loop {
                    std::thread::sleep(umlvnf_agent::agent::keepalive::EVERY);
                    let Some(lab) = weak.upgrade() else { break };
                    if lab.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    lab.peers.send_keepalives();
                    lab.peers.poll(lab.as_ref());
                })
                .map_err(RuntimeError::io("starting the peer watch"))?;
        }
        Ok(lab)
    }

    /// Boots every guest in parallel and waits until all are ready.
    pub fn boot_all(self: &Arc<Self>, progress: &mut Progress) -> Result<(), RuntimeError> {
        let (tx, rx) = std::sync::mpsc::channel();
        for g in self.guests.values() {
            let g = g.clone();
            let tx = tx.clone();
            let lab = self.clone();
            std::thread::spawn(move || {
                let r = g.boot();
                lab.record(&g);
                let _ = tx.send((g.node().to_string(), r));
            });
        }
        drop(tx);
        let mut first_error = None;
        for (node, r) in rx {
            match r {
                Ok(booted) => {
                    let secs = booted.seconds;
                    progress.line(&match booted.retried_after {
                        None => format!("{node}: ready in {secs:.1} s"),
                        Some(why) => format!(
                            "{node}: ready in {secs:.1} s, at the second boot (restart policy); \
                             the first failed: {why}"
                        ),
                    })
                }
                Err(e) => {
                    progress.line(&format!("{node}: failed: {e}"));
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        for g in self.guests.values() {
            let g = g.clone();
            let lab = self.clone();
            std::thread::spawn(move || g.watch(&|| lab.record(&g)));
        }
        Ok(())
    }

    /// Writes a guest's live status into the state file.
    fn record(&self, g: &Guest) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.guests.insert(g.node().to_string(), g.record());
        let _ = st.save(&self.plan.lab_dir);
    }

    /// The lab name.
    pub fn name(&self) -> &str {
        &self.plan.lab
    }

    /// The plan the lab was deployed from.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Live records of every guest.
    pub fn guest_records(&self) -> Vec<(String, GuestRecord)> {
        self.guests
            .values()
            .map(|g| (g.node().to_string(), g.record()))
            .collect()
    }

    /// A guest's interface statistics report, read by its agent without spawning a process.
    pub fn guest_net_stats(&self, node: &str, timeout: Duration) -> Result<String, GuestError> {
        let g = self
            .guests
            .get(node)
            .ok_or_else(|| GuestError::NotAGuest(node.to_string()))?;
        g.net_stats(timeout)
    }

    /// Counters of every wire.
    pub fn wire_counters(
        &self,
    ) -> Vec<(String, usize, [String; 2], umlvnf_datapath::WireCounters)> {
        self.wires.counters()
    }

    /// Keeps the metrics endpoint (stopped with the lab) and records its address.
    pub fn record_metrics(
        &self,
        server: Option<umlvnf_metrics::MetricsServer>,
    ) -> Option<std::net::SocketAddr> {
        let addr = server.as_ref().map(|s| s.local_addr());
        *self.metrics.lock().unwrap_or_else(|p| p.into_inner()) = server;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.metrics = addr;
        let _ = st.save(&self.plan.lab_dir);
        addr
    }

    /// Sets and saves the lab's phase.
    pub fn set_phase(&self, phase: Phase) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.phase = phase;
        let _ = st.save(&self.plan.lab_dir);
    }

    /// A copy of the recorded state.
    pub fn state_snapshot(&self) -> LabState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops every guest (graceful first), in parallel, then the datapath.
    pub fn stop_guests(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        std::thread::scope(|s| {
            for g in self.guests.values() {
                s.spawn(|| g.stop());
            }
        });
        for g in self.guests.values() {
            self.record(g);
        }
        self.wires.shutdown();
    }

    /// Holds the lab until SIGINT/SIGTERM or a `down` request, then removes it.
    pub fn hold(self: Arc<Self>) {
        while !INTERRUPTED.load(Ordering::SeqCst) && !self.stopping.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
        }
        self.teardown();
    }

    fn teardown(&self) {
        self.set_phase(Phase::Stopping);
        if let Some(m) = self
            .metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            m.shutdown();
        }
        self.stop_guests();
        let owned = self.state_snapshot().owned;
        let problems = host_objects::remove(&self.plan.lab, &owned);
        for p in &problems {
            eprintln!("cleanup: {p}");
        }
        let _ = std::fs::remove_dir_all(&self.plan.lab_dir);
        let reply = if problems.is_empty() {
            Reply::Done
        } else {
            Reply::refused(format!(
                "some objects could not be removed: {}",
                problems.join("; ")
            ))
        };
        for w in self
            .down_waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = control::write_reply(&w, &reply);
        }
    }

    fn serve(&self, conn: UnixStream) {
        let request = match control::read_request(&conn) {
            Ok(r) => r,
            Err(e) => {
                let _ = control::write_reply(&conn, &Reply::refused(format!("bad request: {e}")));
                return;
            }
        };
        let reply = match request {
            Request::Status => Reply::Status(Box::new(self.status())),
            Request::Down => {
                self.down_waiters
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(conn);
                self.stopping.store(true, Ordering::SeqCst);
                return;
            }
            Request::Exec {
                node,
                argv,
                stdin,
                timeout_ms,
            } => match self.guest(&node) {
                Ok(g) => match g.exec(&argv, stdin.as_deref(), Duration::from_millis(timeout_ms)) {
                    Ok((status, stdout, stderr)) => Reply::Exec(ExecResult {
                        status,
                        stdout,
                        stderr,
                    }),
                    Err(e) => Reply::refused(e.to_string()),
                },
                Err(e) => *e,
            },
            Request::Put {
                node,
                path,
                mode,
                data,
            } => match self.guest(&node) {
                Ok(g) => match g.put(&path, mode, &data) {
                    Ok(()) => Reply::Done,
                    Err(e) => Reply::refused(e.to_string()),
                },
                Err(e) => *e,
            },
            Request::Get { node, path } => match self.guest(&node) {
                Ok(g) => match g.get(&path) {
                    Ok(data) => Reply::Data(data),
                    Err(e) => Reply::refused(e.to_string()),
                },
                Err(e) => *e,
            },
            Request::Capture { link } => {
                if let Err(e) = self.wire_named(&link) {
                    let _ = control::write_reply(&conn, &Reply::refused(e.to_string()));
                    return;
                }
                if control::write_reply(&conn, &Reply::Done).is_err() {
                    return;
                }
                let Ok(out) = conn.try_clone() else { return };
                let waiter = conn;
                let r = self.wires.capture(&link, Box::new(out), move || {
                    // The capture runs until the client closes its end.
                    let mut buf = [0u8; 64];
                    let mut w = &waiter;
                    while matches!(std::io::Read::read(&mut w, &mut buf), Ok(n) if n > 0) {}
                });
                if let Err(e) = r {
                    eprintln!("capture {link}: {e}");
                }
                return;
            }
            Request::LinkSet {
                link,
                from,
                impair,
                up,
            } => match self
                .wire_named(&link)
                .and_then(|()| self.link_set(&link, from.as_deref(), impair.as_ref(), up))
            {
                Ok(()) => Reply::Done,
                Err(e) => Reply::refused(e.to_string()),
            },
            Request::Links => Reply::Wires(self.wire_status()),
            Request::Console { node } => match self.guest(&node) {
                Ok(g) => {
                    if control::write_reply(&conn, &Reply::Done).is_ok() {
                        if let Err(e) = g.attach_console(conn) {
                            eprintln!("console {node}: {e}");
                        }
                    }
                    return;
                }
                Err(e) => *e,
            },
        };
        let _ = control::write_reply(&conn, &reply);
    }

    fn guest(&self, node: &str) -> Result<&Arc<Guest>, Box<Reply>> {
        self.guests.get(node).ok_or_else(|| {
            let names: Vec<&str> = self.guests.keys().map(String::as_str).collect();
            Box::new(Reply::refused(format!(
                "`{node}` is not a guest of lab `{}`; its guests are: {}",
                self.plan.lab,
                names.join(", ")
            )))
        })
    }

    /// Checks that `link` names one of the lab's wires (see [`check_wire`]).
    fn wire_named(&self, link: &str) -> Result<(), LinkRequestError> {
        check_wire(&self.plan.lab, link, self.wire_list())
    }

    /// The lab's wires as (name, its two endpoints).
    fn wire_list(&self) -> impl Iterator<Item = (&str, [&str; 2])> + Clone {
        self.plan.wires.iter().map(|w| {
            let [a, b] = &w.ends;
            (w.name.as_str(), [a.endpoint.as_str(), b.endpoint.as_str()])
        })
    }

    fn link_set(
        &self,
        link: &str,
        from: Option<&str>,
        impair: Option<&Impairment>,
        up: Option<bool>,
    ) -> Result<(), LinkRequestError> {
        let dir = match from {
            None => None,
            Some(ep) => {
                let plan = self
                    .plan
                    .wires
                    .iter()
                    .find(|w| w.name == link || w.ends.iter().any(|e| e.endpoint == link))
                    .ok_or_else(|| {
                        LinkRequestError::not_a_link(&self.plan.lab, link, self.wire_list())
                    })?;
                let idx = plan
                    .ends
                    .iter()
                    .position(|e| e.endpoint == ep)
                    .ok_or_else(|| LinkRequestError::NotAnEnd {
                        link: plan.name.clone(),
                        end: ep.to_string(),
                        ends: [plan.ends[0].endpoint.clone(), plan.ends[1].endpoint.clone()],
                    })?;
                Some(idx)
            }
        };
        let impair = match impair {
            Some(i) => {
                i.check_jitter()?;
                Some((dir, i.into()))
            }
            None => None,
        };
        self.wires.set(link, impair, up)
    }

    fn wire_status(&self) -> Vec<WireStatus> {
        self.wires
            .counters()
            .into_iter()
            .map(|(name, _, ends, c)| {
                let dir = |from: &str, to: &str, d: &umlvnf_datapath::DirectionCounters| {
                    let drops = d.drops();
                    WireDirection {
                        from: from.to_string(),
                        to: to.to_string(),
                        received: d.rx.packets,
                        sent: d.tx.packets,
                        bytes: d.rx.bytes,
                        queued: d.queued,
                        drops: umlvnf_datapath::DropReason::ALL
                            .iter()
                            .map(|r| (r.as_str().to_string(), drops.get(*r)))
                            .filter(|(_, n)| *n > 0)
                            .collect(),
                    }
                };
                WireStatus {
                    name,
                    directions: vec![
                        dir(&ends[0], &ends[1], &c.a_to_b),
                        dir(&ends[1], &ends[0], &c.b_to_a),
                    ],
                }
            })
            .collect()
    }

    fn status(&self) -> LabStatus {
        let st = self.state_snapshot();
        let mut status = status_of(
            &st,
            self.guests
                .values()
                .map(|g| (g.node().to_string(), g.record()))
                .collect(),
        );
        status.remote_ends = self.peers.status();
        status
    }
}

impl PeerCounters for Lab {
    fn guest_report(&self, node: &str) -> Option<String> {
        self.guest_net_stats(node, Duration::from_secs(1)).ok()
    }

    fn wire_received(&self, endpoint: &str) -> Option<u64> {
        self.wires
            .counters()
            .into_iter()
            .find(|(_, _, ends, _)| ends[0] == endpoint)
            .map(|(_, _, _, c)| c.b_to_a.rx.packets)
    }
}

/// Builds the status of a lab from its state, with live guest records where known.
pub fn status_of(st: &LabState, live: BTreeMap<String, GuestRecord>) -> LabStatus {
    let mut nodes = Vec::new();
    for (name, rec) in st.guests.iter().chain(live.iter()) {
        if nodes.iter().any(|n: &NodeStatus| &n.name == name) {
            continue;
        }
        let rec = live.get(name).unwrap_or(rec);
        nodes.push(NodeStatus {
            name: name.clone(),
            kind: NodeKind::Uml,
            state: rec.state,
            pid: rec.process.map(|p| p.pid),
            boot_seconds: rec.boot_seconds,
            restarts: rec.restarts,
            netns: None,
            error: rec.error.clone(),
            last_exit: rec.last_exit.clone(),
        });
    }
    for (name, ns) in &st.hosts {
        nodes.push(NodeStatus {
            name: name.clone(),
            kind: NodeKind::Host,
            state: if umlvnf_host::netns_exists(ns) {
                NodeState::Up
            } else {
                NodeState::Missing
            },
            pid: None,
            boot_seconds: None,
            restarts: 0,
            netns: Some(ns.clone()),
            error: None,
            last_exit: None,
        });
    }
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    LabStatus {
        lab: st.lab.clone(),
        phase: st.phase,
        started_at: st.started_at,
        supervisor_pid: st.supervisor.map(|p| p.pid),
        metrics: st.metrics,
        nodes,
        links: st.links.clone(),
        remote_ends: Vec::new(),
    }
}
