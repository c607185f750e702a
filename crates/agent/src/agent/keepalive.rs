//! Keepalives on links to a remote end: an LLDP frame every [`EVERY`] on each interface the
//! configuration marks ([`crate::config::InterfaceConfig::keepalive`]).
//!
//! A link straight from a guest to a remote end (a `remote:` tunnel, or a link to a node on
//! another host) has nothing on the host that sees whether the far end is alive. With a
//! frame from each side every few seconds, the runtime on each host reads the guest's receive
//! counter and knows when the peer last sent anything, even on an idle link. LLDP is what
//! network equipment sends for this: the frame names the node (chassis) and the interface
//! (port), goes to the nearest-bridge group address, which bridges do not forward, and no
//! protocol in the guest takes it.

use std::time::Duration;

use crate::config::GuestConfig;

/// How often a keepalive is sent.
pub const EVERY: Duration = Duration::from_secs(2);
/// The time-to-live the frames announce, in seconds: three intervals.
const TTL_SECONDS: u16 = 6;
/// LLDP's EtherType.
const ETHERTYPE_LLDP: u16 = 0x88cc;
/// The nearest-bridge group address LLDP goes to.
const LLDP_MULTICAST: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e];

/// Starts a thread that sends keepalives on the marked interfaces of `cfg`, if there are any.
pub fn start(cfg: &GuestConfig) {
    let names: Vec<String> = cfg
        .interfaces
        .iter()
        .filter(|i| i.keepalive)
        .map(|i| i.name.clone())
        .collect();
    if names.is_empty() {
        return;
    }
    let node = cfg.node.clone();
    let spawned = std::thread::Builder::new()
        .name("keepalive".into())
        .spawn(move || run(&node, &names));
    if let Err(e) = spawned {
        super::log(format_args!("cannot start the keepalive thread: {e}"));
    }
}

/// Sends the keepalives forever; an interface that cannot send is reported once and retried.
fn run(node: &str, names: &[String]) -> ! {
    let mut reported = vec![false; names.len()];
    loop {
        for (name, reported) in names.iter().zip(reported.iter_mut()) {
            match send(node, name) {
                Ok(()) => *reported = false,
                Err(e) if !*reported => {
                    super::log(format_args!("keepalive on {name}: {e}"));
                    *reported = true;
                }
                Err(_) => {}
            }
        }
        std::thread::sleep(EVERY);
    }
}

/// Sends one LLDP frame from `node` on interface `name` of the calling thread's network
/// namespace (the runtime calls it from inside a host node's namespace too).
pub fn send(node: &str, name: &str) -> std::io::Result<()> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in a name"))?;
    // SAFETY: `cname` is a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: plain socket(2); the descriptor is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            0, // send only: no protocol is received
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nothing else.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&sock);
    let frame = lldp_frame(interface_mac(raw, name)?, node, name);
    // SAFETY: sockaddr_ll is plain data; zero is a valid value of every field.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = ETHERTYPE_LLDP.to_be();
    addr.sll_ifindex = index as i32;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&LLDP_MULTICAST);
    // SAFETY: `frame` is valid for its length and `addr` is a sockaddr_ll of the size passed.
    let sent = unsafe {
        libc::sendto(
            raw,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The MAC address of interface `name`, asked of the kernel through socket `fd` (so it is the
/// interface of the socket's network namespace, whatever `/sys` shows).
fn interface_mac(fd: i32, name: &str) -> std::io::Result<[u8; 6]> {
    // SAFETY: ifreq is plain data; zero is a valid value of every field.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads a NUL-terminated name from `req` and writes its address
    // into it; `req` lives across the call.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFHWADDR, &mut req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: after SIOCGIFHWADDR the union holds the hardware address.
    let hw = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (m, b) in mac.iter_mut().zip(hw.sa_data.iter()) {
        *m = *b as u8;
    }
    Ok(mac)
}

/// An LLDP frame from `mac`: chassis ID `node` and port ID `port` (both locally assigned
/// names), a TTL of [`TTL_SECONDS`], system name `node`, padded to the Ethernet minimum.
pub fn lldp_frame(mac: [u8; 6], node: &str, port: &str) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&LLDP_MULTICAST);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETHERTYPE_LLDP.to_be_bytes());
    // Chassis ID, subtype 7 (locally assigned); port ID, subtype 7 (locally assigned).
    tlv(&mut f, 1, &[&[7], node.as_bytes()]);
    tlv(&mut f, 2, &[&[7], port.as_bytes()]);
    tlv(&mut f, 3, &[&TTL_SECONDS.to_be_bytes()]);
    tlv(&mut f, 5, &[node.as_bytes()]);
    tlv(&mut f, 0, &[]);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// Appends a TLV of type `kind` whose value is `parts` joined, cut to the 511 bytes a TLV holds.
fn tlv(f: &mut Vec<u8>, kind: u16, parts: &[&[u8]]) {
    let value: Vec<u8> = parts.concat().into_iter().take(511).collect();
    let head = (kind << 9) | value.len() as u16;
    f.extend_from_slice(&head.to_be_bytes());
    f.extend_from_slice(&value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_lldp_with_the_node_and_port() {
        let f = lldp_frame([2, 0, 0, 0, 0, 1], "r1", "eth1");
        assert_eq!(&f[..6], &LLDP_MULTICAST);
        assert_eq!(&f[6..12], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(&f[12..14], &[0x88, 0xcc]);
        // Chassis ID: type 1, length 3 (subtype + "r1").
        assert_eq!(&f[14..16], &[0x02, 0x03]);
        assert_eq!(&f[16..19], b"\x07r1");
        // Port ID: type 2, length 5.
        assert_eq!(&f[19..21], &[0x04, 0x05]);
        assert_eq!(&f[21..26], b"\x07eth1");
        // TTL: type 3, length 2, 6 s.
        assert_eq!(&f[26..30], &[0x06, 0x02, 0x00, 0x06]);
        // System name, then the end TLV, then padding to 60 bytes.
        assert_eq!(&f[30..34], b"\x0a\x02r1");
        assert_eq!(&f[34..36], &[0, 0]);
        assert_eq!(f.len(), 60);
    }
}
