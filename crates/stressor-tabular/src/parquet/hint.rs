//! The Arrow schema that Arrow writers (pyarrow, arrow-rs) store in a Parquet file's key-value
//! metadata under `ARROW:schema`, read just far enough to type the top-level columns as the
//! Arrow reader did.
//!
//! The Arrow reader took a column's type from this schema where the Parquet type alone loses
//! it (see [`super::decode_of`]): an un-annotated `INT64` written from a duration, a timestamp in
//! seconds or a 64-bit date; a dictionary (a pandas categorical) of numbers; text written as
//! plain binary. The value is base64 of an Arrow IPC message whose flatbuffer holds a `Schema`
//! (`format/Schema.fbs`, `format/Message.fbs` in Apache Arrow); only the top-level fields' names,
//! types and dictionary flags are read, every offset bounds-checked. A value that does not
//! decode is ignored (the Arrow reader refused such a file as a whole).

use parquet::file::metadata::KeyValue;

/// The metadata key.
const KEY: &str = "ARROW:schema";

/// An Arrow type, as far as typing a column needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arrow {
    /// `Int8` … `UInt64`.
    Int {
        bits: i32,
        signed: bool,
    },
    /// `Float16` (0), `Float32` (1), `Float64` (2).
    Float {
        precision: i16,
    },
    /// `Decimal32` … `Decimal256`.
    Decimal {
        precision: i32,
        scale: i32,
        bits: i32,
    },
    /// `Utf8`, `LargeUtf8` or `Utf8View`.
    Text,
    /// `Boolean`.
    Bool,
    /// `Binary` (a Parquet byte array without a text annotation; Arrow's own binary types are
    /// [`Arrow::Other`], as no rule looks at them).
    Binary,
    Timestamp,
    /// `Time32` or `Time64`.
    Time {
        bits: i32,
    },
    /// `Date32` (days) or `Date64` (milliseconds).
    Date {
        millis: bool,
    },
    Duration,
    /// Any other type: none of the rules looks at it.
    Other,
}

impl Arrow {
    /// For messages: `an Arrow duration`, `an Arrow dictionary of Int64`.
    pub(super) fn name(self, dictionary: bool) -> String {
        let name = match self {
            Arrow::Int { bits, signed: true } => format!("Int{bits}"),
            Arrow::Int { bits, signed: false } => format!("UInt{bits}"),
            Arrow::Float { precision } => format!("Float{}", 16 << precision.clamp(0, 2)),
            Arrow::Decimal { precision, scale, bits } => {
                format!("Decimal{bits}({precision}, {scale})")
            }
            Arrow::Text => "Utf8".into(),
            Arrow::Bool => "Boolean".into(),
            Arrow::Binary => "Binary".into(),
            Arrow::Timestamp => "Timestamp".into(),
            Arrow::Time { bits } => format!("Time{bits}"),
            Arrow::Date { millis } => if millis { "Date64" } else { "Date32" }.into(),
            Arrow::Duration => "Duration".into(),
            Arrow::Other => "another type".into(),
        };
        if dictionary { format!("Dictionary of {name}") } else { name }
    }
}

/// One top-level field of the Arrow schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Field {
    pub(super) name: String,
    /// Its type; for a dictionary, the type of the values.
    pub(super) arrow: Arrow,
    pub(super) dictionary: bool,
}

/// The top-level fields of the Arrow schema in `metadata`, if there is one that decodes.
pub(super) fn fields(metadata: Option<&Vec<KeyValue>>) -> Option<Vec<Field>> {
    // As the Arrow reader, which collected the pairs into a map: the last value wins.
    let value = metadata?.iter().rev().find(|kv| kv.key == KEY)?.value.as_deref()?;
    let bytes = base64(value)?;
    // An encapsulated IPC message: 0xFFFFFFFF, the metadata length, then the flatbuffer.
    let flatbuffer = if bytes.len() > 8 && bytes[..4] == [0xff; 4] { &bytes[8..] } else { &bytes };
    schema_fields(Buffer(flatbuffer))
}

fn schema_fields(buffer: Buffer<'_>) -> Option<Vec<Field>> {
    /// `MessageHeader::Schema`.
    const SCHEMA: u8 = 1;
    let message = buffer.table(buffer.u32(0)? as usize)?;
    // Message: version, header_type, header, bodyLength, custom_metadata.
    if buffer.u8(buffer.field(&message, 1)?)? != SCHEMA {
        return None;
    }
    let schema = buffer.table(buffer.deref(buffer.field(&message, 2)?)?)?;
    // Schema: endianness, fields, custom_metadata, features.
    let vector = buffer.deref(buffer.field(&schema, 1)?)?;
    let len = buffer.u32(vector)? as usize;
    (0..len)
        .map(|i| {
            let element = vector.checked_add(4)?.checked_add(i.checked_mul(4)?)?;
            field(buffer, &buffer.table(buffer.deref(element)?)?)
        })
        .collect()
}

/// An Arrow `Field` table: name, nullable, type_type, type, dictionary, children, …
fn field(buffer: Buffer<'_>, table: &Table) -> Option<Field> {
    let name = match buffer.field(table, 0) {
        Some(at) => buffer.string(buffer.deref(at)?)?,
        None => String::new(),
    };
    let tag = buffer.field(table, 2).map_or(Some(0), |at| buffer.u8(at))?;
    let ty = match buffer.field(table, 3) {
        Some(at) => Some(buffer.table(buffer.deref(at)?)?),
        None => None,
    };
    // A scalar of the type's table, or its default when absent.
    let i32_or = |i: usize, default: i32| match &ty {
        Some(ty) => buffer.field(ty, i).map_or(Some(default), |at| buffer.i32(at)),
        None => Some(default),
    };
    let i16_or = |i: usize, default: i16| match &ty {
        Some(ty) => buffer.field(ty, i).map_or(Some(default), |at| buffer.i16(at)),
        None => Some(default),
    };
    let u8_or = |i: usize, default: u8| match &ty {
        Some(ty) => buffer.field(ty, i).map_or(Some(default), |at| buffer.u8(at)),
        None => Some(default),
    };
    // The `Type` union's tags.
    let arrow = match tag {
        2 => Arrow::Int { bits: i32_or(0, 0)?, signed: u8_or(1, 0)? != 0 },
        3 => Arrow::Float { precision: i16_or(0, 0)? },
        5 | 20 | 24 => Arrow::Text,
        7 => {
            Arrow::Decimal { precision: i32_or(0, 0)?, scale: i32_or(1, 0)?, bits: i32_or(2, 128)? }
        }
        8 => Arrow::Date { millis: i16_or(0, 1)? == 1 },
        9 => Arrow::Time { bits: i32_or(1, 32)? },
        10 => Arrow::Timestamp,
        18 => Arrow::Duration,
        _ => Arrow::Other,
    };
    Some(Field { name, arrow, dictionary: buffer.field(table, 4).is_some() })
}

/// A flatbuffer: little-endian scalars, tables found through vtables, `u32` forward offsets.
#[derive(Clone, Copy)]
struct Buffer<'a>(&'a [u8]);

/// A table's position and its vtable's position and length in bytes.
struct Table {
    at: usize,
    vtable: usize,
    vtable_len: usize,
}

impl Buffer<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.0.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    fn u8(&self, at: usize) -> Option<u8> {
        self.0.get(at).copied()
    }

    fn i16(&self, at: usize) -> Option<i16> {
        self.bytes(at).map(i16::from_le_bytes)
    }

    fn u16(&self, at: usize) -> Option<u16> {
        self.bytes(at).map(u16::from_le_bytes)
    }

    fn i32(&self, at: usize) -> Option<i32> {
        self.bytes(at).map(i32::from_le_bytes)
    }

    fn u32(&self, at: usize) -> Option<u32> {
        self.bytes(at).map(u32::from_le_bytes)
    }

    /// Follows the `u32` offset stored at `at`.
    fn deref(&self, at: usize) -> Option<usize> {
        at.checked_add(self.u32(at)? as usize)
    }

    /// The table at `at`, whose first word is the signed distance back to its vtable.
    fn table(&self, at: usize) -> Option<Table> {
        let back = i64::from(self.i32(at)?);
        let vtable = usize::try_from(i64::try_from(at).ok()?.checked_sub(back)?).ok()?;
        let vtable_len = usize::from(self.u16(vtable)?);
        Some(Table { at, vtable, vtable_len })
    }

    /// Where field `i` of `table` is, or `None` when it is absent (its default).
    fn field(&self, table: &Table, i: usize) -> Option<usize> {
        let slot = 4 + 2 * i;
        if slot + 2 > table.vtable_len {
            return None;
        }
        match self.u16(table.vtable + slot)? {
            0 => None,
            offset => table.at.checked_add(usize::from(offset)),
        }
    }

    /// The string at `at`: a `u32` length, then UTF-8 bytes.
    fn string(&self, at: usize) -> Option<String> {
        let len = self.u32(at)? as usize;
        let start = at.checked_add(4)?;
        let bytes = self.0.get(start..start.checked_add(len)?)?;
        String::from_utf8(bytes.to_vec()).ok()
    }
}

/// Standard base64, padding optional.
fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut bits = 0u32;
    let mut held = 0;
    for c in text.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        held += 6;
        if held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
            bits &= (1 << held) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(base64("aGVsbG8"), Some(b"hello".to_vec()));
        assert_eq!(base64("AAEC/w=="), Some(vec![0, 1, 2, 255]));
        assert_eq!(base64("a b"), None);
    }

    #[test]
    fn reads_the_fields_arrow_rs_wrote() {
        // `ok: Int32` and `e: Dictionary(Int8, Int64)`, as arrow-rs 60 stored them.
        let value = "/////9AAAAAQAAAAAAAKAAwACgAJAAQACgAAAAgAAAAAAQQAxP///wQAAAACAAAAdAAAABQAAAAQ\
            ABgAFAAOAA8ABAAQAAgAEAAAADAAAAA4AAAAAAABAhAAAAAwAAAACAAIAAAABAAIAAAABAAAALj///8IAAAA\
            AAAAAcT///9AAAAAAAAAAQAAAAABAAAAZQAAABAAFAAQAAAADwAEAAAACAAQAAAAGAAAACAAAAAAAAACHAAA\
            AAgADAAEAAsACAAAACAAAAAAAAABAAAAAAIAAABvawAA";
        let metadata = vec![KeyValue::new(KEY.to_string(), value.to_string())];
        let fields = fields(Some(&metadata)).expect("decodes");
        let ok = Field {
            name: "ok".into(),
            arrow: Arrow::Int { bits: 32, signed: true },
            dictionary: false,
        };
        let e = Field {
            name: "e".into(),
            arrow: Arrow::Int { bits: 64, signed: true },
            dictionary: true,
        };
        assert_eq!(fields, [ok, e]);
    }

    #[test]
    fn garbage_is_no_schema() {
        assert_eq!(schema_fields(Buffer(&[])), None);
        assert_eq!(schema_fields(Buffer(&[4, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f])), None);
        assert_eq!(schema_fields(Buffer(&[200, 0, 0, 0])), None);
    }
}
