//! The field names of a model struct, read from its derived `Deserialize`: the decoder lists
//! exactly the fields serde knows, in declaration order, so the two cannot drift apart.

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A deserializer that only records the field list a struct asks for, then stops.
struct Probe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The fields of struct `T` as its serde derive names them, in declaration order (empty for a
/// type that is not a plain struct).
pub(crate) fn field_names<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        first: u8,
        #[serde(rename = "second_name")]
        second: String,
    }

    #[test]
    fn lists_the_fields_in_declaration_order_with_their_serde_names() {
        assert_eq!(field_names::<Sample>(), ["first", "second_name"]);
        assert!(field_names::<u8>().is_empty());
    }
}
