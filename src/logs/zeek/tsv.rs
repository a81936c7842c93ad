//! Zeek's tab-separated format: the `#` header ([`Header`]: separators, the unset and empty
//! markers, `#path`, `#fields`), and a serde deserializer over one data line ([`Header::row`]),
//! which hands each column to the line struct under its `#fields` name, so the struct that
//! reads a JSON line reads a TSV line too. A header may come again mid-stream (files
//! concatenated): a `#separator` line starts a new one. Columns are read in place, borrowed
//! from the line; nothing of a line is kept.

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use std::fmt;

/// Most columns a `#fields` line may name (Zeek's widest logs have about 40).
pub const MAX_FIELDS: usize = 1024;

/// Longest separator, set separator, unset or empty marker kept, in bytes.
const MAX_MARKER: usize = 16;

/// The header of the file being read.
#[derive(Clone, Debug)]
pub struct Header {
    separator: Vec<u8>,
    set_separator: Vec<u8>,
    empty_field: Vec<u8>,
    unset_field: Vec<u8>,
    /// `#path`: which log this is.
    pub path: Option<String>,
    /// `#fields`: the name of each column (empty before the header names them).
    pub fields: Vec<String>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            separator: b"\t".to_vec(),
            set_separator: b",".to_vec(),
            empty_field: b"(empty)".to_vec(),
            unset_field: b"-".to_vec(),
            path: None,
            fields: Vec::new(),
        }
    }
}

impl Header {
    /// Reads a line that starts with `#`. A `#separator` line begins a new header; `#open`,
    /// `#close`, `#types` and any other `#` line (a comment) change nothing.
    pub fn header_line(&mut self, line: &[u8]) -> Result<(), &'static str> {
        let body = &line[1..];
        // `#separator` is followed by a space, every other key by the separator.
        let space = body.iter().position(|&b| b == b' ');
        let sep = split(body, &self.separator).next().map(<[u8]>::len);
        let (key_end, gap) = match (space, sep) {
            (Some(s), Some(t)) if s < t => (s, 1),
            (_, Some(t)) if t < body.len() => (t, self.separator.len()),
            (Some(s), _) => (s, 1),
            _ => (body.len(), 0),
        };
        let key = &body[..key_end];
        let value = body.get(key_end + gap..).unwrap_or_default();
        let marker = |value: &[u8]| -> Result<Vec<u8>, &'static str> {
            let value = super::value::unescape(value, super::value::Syntax::Tsv);
            match value.len() {
                0 => Err("an empty separator or marker in the header"),
                1..=MAX_MARKER => Ok(value.into_owned()),
                _ => Err("a separator or marker in the header longer than 16 bytes"),
            }
        };
        match key {
            b"separator" => {
                *self = Header {
                    separator: marker(value)?,
                    ..Header::default()
                };
            }
            b"set_separator" => self.set_separator = marker(value)?,
            b"empty_field" => self.empty_field = marker(value)?,
            b"unset_field" => self.unset_field = marker(value)?,
            b"path" => {
                let path = super::value::unescape(value, super::value::Syntax::Tsv);
                self.path = Some(String::from_utf8_lossy(&path[..path.len().min(64)]).into());
            }
            b"fields" => self.set_fields(value)?,
            _ => {}
        }
        Ok(())
    }

    /// Takes `line` as the column names, as `zeek-cut -m` prints them (its first line, bare
    /// names without `#fields`), if it is one: before any `#fields`, every column a field name
    /// or empty, and one of them `ts`, `uid`, `uids` or an `id.` field (a data line has a time,
    /// a uid or an address there).
    pub fn bare_fields(&mut self, line: &[u8]) -> bool {
        let name = |c: &[u8]| {
            c.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        let mut columns = split(line, &self.separator);
        let named = (columns.clone())
            .any(|c| matches!(c, b"ts" | b"uid" | b"uids") || c.starts_with(b"id."));
        if !self.fields.is_empty() || !named || !columns.all(name) {
            return false;
        }
        self.set_fields(line).is_ok()
    }

    fn set_fields(&mut self, value: &[u8]) -> Result<(), &'static str> {
        self.fields.clear();
        for name in split(value, &self.separator) {
            if self.fields.len() == MAX_FIELDS {
                self.fields.clear();
                return Err("a #fields line naming more than 1024 fields");
            }
            self.fields
                .push(String::from_utf8_lossy(&name[..name.len().min(256)]).into());
        }
        Ok(())
    }

    /// A data line, to deserialize: it must have one column per field.
    pub fn row<'h, 'de>(&'h self, line: &'de [u8]) -> Result<Row<'h, 'de>, &'static str> {
        if self.fields.is_empty() {
            return Err("a data line before the #fields header");
        }
        if split(line, &self.separator).count() != self.fields.len() {
            return Err("a line whose number of fields is not the header's");
        }
        Ok(Row { header: self, line })
    }
}

/// The parts of `hay` between occurrences of `sep` (one part when there is none).
#[derive(Clone)]
struct Split<'a, 's> {
    rest: Option<&'a [u8]>,
    sep: &'s [u8],
}

fn split<'a, 's>(hay: &'a [u8], sep: &'s [u8]) -> Split<'a, 's> {
    Split {
        rest: Some(hay),
        sep,
    }
}

impl<'a> Iterator for Split<'a, '_> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        let at = match self.sep {
            [one] => rest.iter().position(|b| b == one),
            sep => rest.windows(sep.len()).position(|w| w == sep),
        };
        match at {
            Some(at) => {
                self.rest = Some(&rest[at + self.sep.len()..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Why a TSV line did not deserialize.
#[derive(Debug, PartialEq, Eq)]
pub struct Error(pub &'static str);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Error("a field of the wrong type")
    }

    fn duplicate_field(_: &'static str) -> Self {
        Error("a field named twice in the header")
    }
}

/// One data line: a map from the header's field names to the line's columns.
pub struct Row<'h, 'de> {
    header: &'h Header,
    line: &'de [u8],
}

impl<'de> Deserializer<'de> for Row<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Columns {
            header: self.header,
            names: self.header.fields.iter(),
            values: split(self.line, &self.header.separator),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct Columns<'h, 'de> {
    header: &'h Header,
    names: std::slice::Iter<'h, String>,
    values: Split<'de, 'h>,
    value: Option<&'de [u8]>,
}

impl<'de> MapAccess<'de> for Columns<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(name) = self.names.next() else {
            return Ok(None);
        };
        self.value = self.values.next();
        seed.deserialize(name.as_str().into_deserializer())
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let raw = self.value.take().ok_or(Error("a line cut short"))?;
        seed.deserialize(Column {
            header: self.header,
            raw,
        })
    }
}

/// One column (or one element of a set or vector).
struct Column<'h, 'de> {
    header: &'h Header,
    raw: &'de [u8],
}

impl<'de> Column<'_, 'de> {
    /// The column's text: the empty marker is the empty string.
    fn text(&self) -> &'de [u8] {
        match self.raw == self.header.empty_field.as_slice() {
            true => b"",
            false => self.raw,
        }
    }

    fn number<T: std::str::FromStr>(&self) -> Result<T, Error> {
        (std::str::from_utf8(self.raw).ok())
            .and_then(|s| s.parse().ok())
            .ok_or(Error("a number field that is not a number"))
    }
}

impl<'de> Deserializer<'de> for Column<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_bytes(self.text())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.raw == self.header.unset_field.as_slice() {
            true => visitor.visit_none(),
            false => visitor.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.raw {
            b"T" => visitor.visit_bool(true),
            b"F" => visitor.visit_bool(false),
            _ => Err(Error("a bool field that is neither T nor F")),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(self.number()?)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i64(self.number()?)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f64(self.number()?)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let elements = match self.raw == self.header.empty_field.as_slice() {
            true => None,
            false => Some(split(self.raw, &self.header.set_separator)),
        };
        visitor.visit_seq(Elements {
            header: self.header,
            elements,
        })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u128 f32 char str string bytes byte_buf unit unit_struct
        newtype_struct tuple tuple_struct map struct enum identifier
    }
}

/// The elements of a set or vector column.
struct Elements<'h, 'de> {
    header: &'h Header,
    elements: Option<Split<'de, 'h>>,
}

impl<'de> SeqAccess<'de> for Elements<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(raw) = self.elements.as_mut().and_then(Iterator::next) else {
            return Ok(None);
        };
        seed.deserialize(Column {
            header: self.header,
            raw,
        })
        .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Line<'a> {
        #[serde(borrow)]
        name: Option<&'a [u8]>,
        count: Option<u16>,
        flag: Option<bool>,
        list: Option<Vec<u32>>,
    }

    fn header(lines: &[&[u8]]) -> Header {
        let mut header = Header::default();
        for line in lines {
            header.header_line(line).unwrap();
        }
        header
    }

    #[test]
    fn columns_by_name_with_unset_empty_and_sets() {
        let h = header(&[
            b"#separator \\x09",
            b"#set_separator\t;",
            b"#fields\tflag\tcount\tother\tname\tlist",
        ]);
        let row = |line: &'static [u8]| Line::deserialize(h.row(line).unwrap());
        assert_eq!(
            row(b"T\t443\tx\t(empty)\t1;2").unwrap(),
            Line {
                name: Some(b""),
                count: Some(443),
                flag: Some(true),
                list: Some(vec![1, 2])
            }
        );
        let unset = row(b"-\t-\t-\t-\t(empty)").unwrap();
        assert_eq!((unset.name, unset.count, unset.flag), (None, None, None));
        assert_eq!(unset.list, Some(vec![]));
        assert_eq!(
            row(b"X\t1\tx\ta\t1").unwrap_err().0,
            "a bool field that is neither T nor F"
        );
        assert_eq!(
            row(b"T\t70000\tx\ta\t1").unwrap_err().0,
            "a field of the wrong type"
        );
        assert!(h.row(b"T\t1").is_err());
    }

    #[test]
    fn a_new_separator_line_starts_a_new_header() {
        let mut h = header(&[b"#separator \\x09", b"#path\tconn", b"#fields\ta\tb"]);
        assert_eq!(h.fields, ["a", "b"]);
        h.header_line(b"#separator ,").unwrap();
        assert!(h.fields.is_empty() && h.path.is_none());
        h.header_line(b"#fields,x,y,z").unwrap();
        assert_eq!(h.fields, ["x", "y", "z"]);
        assert!(h.header_line(b"#separator ").is_err());
    }

    #[test]
    fn zeek_cut_names_only_before_a_header() {
        let mut h = Header::default();
        assert!(!h.bare_fields(b"CHhAvVGS1DHFjwGM9\thttp\tShADad"));
        assert!(h.bare_fields(b"ts\tuid\thistory\t"));
        assert_eq!(h.fields, ["ts", "uid", "history", ""]);
        assert!(!h.bare_fields(b"ts\tuid"));
    }
}
