//! The agent channel ([`umlvnf_agent::protocol`]), its base64 and the config drive.

use umlvnf_agent::protocol::{decode_line, encode_line, Event, Request};
use umlvnf_agent::{base64, config_drive};

use super::{json_kind, kind, tag};
use crate::{Outcomes, Target};

/// The target.
pub const TARGET: Target = Target {
    name: "agent",
    about: "protocol::decode_line of requests (agent side) and events (host side) with their \
            re-encoding, base64::decode, config_drive::read_from",
    run,
    max_len: 4096,
    dictionary: &[
        b"{\"id\":1,\"op\":\"exec\",\"argv\":[\"sh\"]}",
        b"\"op\":\"stage\"",
        b"\"event\":\"reply\"",
        b"\"kind\":\"get\"",
        b"\"data\":\"AAAA\"",
        b"\"stdin\":\"=\"",
        b"\"last\":true",
        b"UMLVNF-CONFIG-DRIVE 1\n",
        b"18446744073709551616",
        b"==",
        b"\\u0000",
        b"null",
    ],
};

fn run(data: &[u8], out: &mut Outcomes) {
    let request = match decode_line::<Request>(data) {
        Ok(r) => {
            let again: Request = decode_line(&encode_line(&r)).expect("an encoded request decodes");
            assert_eq!(again, r, "a request survives encoding");
            tag(&format!("request {:?}", std::mem::discriminant(&r.op)))
        }
        Err(e) => json_kind("request", &e),
    };
    let event = match decode_line::<Event>(data) {
        Ok(ev) => {
            let again: Event = decode_line(&encode_line(&ev)).expect("an encoded event decodes");
            assert_eq!(again, ev, "an event survives encoding");
            tag(&format!("event {:?}", std::mem::discriminant(&ev)))
        }
        Err(e) => json_kind("event", &e),
    };
    let b64 = match std::str::from_utf8(data).map(base64::decode) {
        Ok(Ok(bytes)) => {
            let text = base64::encode(&bytes);
            assert_eq!(
                text.len(),
                data.len(),
                "base64 of the decoded bytes has the same length"
            );
            assert_eq!(
                base64::decode(&text).ok(),
                Some(bytes),
                "decode(encode(x)) = x"
            );
            1
        }
        Ok(Err(e)) => kind("base64", &e.to_string()),
        Err(_) => 2,
    };
    let drive = match config_drive::read_from(data) {
        Ok(cfg) => {
            let again = config_drive::read_from(&config_drive::to_bytes(&cfg)[..])
                .expect("a written drive reads back");
            assert_eq!(again, cfg, "a configuration survives the drive");
            3
        }
        Err(config_drive::ConfigDriveError::Json(e)) => json_kind("drive", &e),
        Err(e) => tag(&format!("drive {:?}", std::mem::discriminant(&e))),
    };
    for k in [request, event, b64, drive] {
        out.add(k);
    }
}
