//! Standard base64 (RFC 4648 alphabet, with `=` padding) for binary payloads in JSON, done by
//! the `base64` crate. The serde helper modules [`bytes`] and [`opt_bytes`] let a `Vec<u8>`
//! field travel as a base64 string.

use ::base64::engine::general_purpose::STANDARD;
use ::base64::Engine;

pub use ::base64::DecodeError;

/// Encodes `data` as padded standard base64.
pub fn encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Decodes padded standard base64 (canonical: padding required, no stray bits).
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    STANDARD.decode(text)
}

/// Serde helper: `#[serde(with = "crate::base64::bytes")]` on a `Vec<u8>` field.
pub mod bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes bytes as a base64 string.
    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(data))
    }

    /// Deserializes bytes from a base64 string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::decode(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde helper: `#[serde(with = "crate::base64::opt_bytes")]` on an `Option<Vec<u8>>` field.
pub mod opt_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes optional bytes as a base64 string or `null`.
    pub fn serialize<S: Serializer>(data: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match data {
            Some(d) => s.serialize_some(&super::encode(d)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes optional bytes from a base64 string or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        text.map(|t| super::decode(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(decode(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(encode(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn all_byte_values_round_trip() {
        for len in 0..300 {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert_eq!(decode(&encode(&data)).unwrap(), data);
        }
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["abc", "ab!d", "a===", "ab==abcd", "Zg", "Zh=="] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_travel_as_base64_strings() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Msg {
            #[serde(with = "bytes")]
            data: Vec<u8>,
            #[serde(with = "opt_bytes")]
            more: Option<Vec<u8>>,
        }
        let msg = Msg {
            data: b"foob".to_vec(),
            more: None,
        };
        let json = serde_json::to_string(&msg).unwrap();
        assert_eq!(json, r#"{"data":"Zm9vYg==","more":null}"#);
        assert_eq!(serde_json::from_str::<Msg>(&json).unwrap(), msg);
        let err = serde_json::from_str::<Msg>(r#"{"data":"Zm9","more":"Zg=="}"#).unwrap_err();
        assert!(err.to_string().contains("padding"), "{err}");
    }
}
