//! `umlvnf console`: a guest's console on this terminal (Ctrl-] detaches).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use super::lab::{self, LabArgs};
use super::Result;

/// Attaches to `node`'s console until Ctrl-] or the end of either side.
pub fn console(args: &LabArgs, node: &str) -> Result<ExitCode> {
    let stream = lab::client(args)?.console(node, Duration::from_secs(10))?;
    eprintln!("connected to {node}'s console; Ctrl-] detaches");
    let raw = RawTerminal::enter();
    let mut from_guest = stream.try_clone()?;
    let out = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdout = std::io::stdout();
        while let Ok(n) = from_guest.read(&mut buf) {
            if n == 0
                || stdout
                    .write_all(&buf[..n])
                    .and_then(|_| stdout.flush())
                    .is_err()
            {
                break;
            }
        }
    });
    let mut to_guest = stream;
    let mut buf = [0u8; 1024];
    let mut stdin = std::io::stdin();
    while let Ok(n) = stdin.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Some(pos) = buf[..n].iter().position(|b| *b == 0x1d) {
            let _ = to_guest.write_all(&buf[..pos]);
            break;
        }
        if to_guest.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to_guest.shutdown(std::net::Shutdown::Both);
    let _ = out.join();
    drop(raw);
    eprintln!("\ndetached from {node}");
    Ok(ExitCode::SUCCESS)
}

/// Puts the terminal in raw mode while a console is attached, and restores it.
struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    fn enter() -> RawTerminal {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        match tcgetattr(&stdin) {
            Ok(saved) => {
                let mut raw = saved.clone();
                cfmakeraw(&mut raw);
                let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
                RawTerminal(Some(saved))
            }
            Err(_) => RawTerminal(None),
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}
