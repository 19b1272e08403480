//! Fast CSV row formatting into a byte buffer.
//!
//! Every value the generator writes is a plain identifier, a number or a timestamp, so no field
//! ever needs quoting; formatting by hand (fixed decimals, no exponent) is several times faster
//! than going through `csv::Writer` with `f64::to_string`, and the output is more compact.

use crate::data::fixed::{push_fixed, push_u64, push_u64_padded};

/// A byte buffer that CSV rows are appended to.
#[derive(Debug, Default)]
pub(super) struct CsvBuf {
    bytes: Vec<u8>,
    /// True when the next field starts a new row (no comma before it).
    row_start: bool,
}

impl CsvBuf {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        CsvBuf {
            bytes: Vec::with_capacity(capacity),
            row_start: true,
        }
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Empties the buffer (a new first row).
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.row_start = true;
    }

    fn sep(&mut self) {
        if !self.row_start {
            self.bytes.push(b',');
        }
        self.row_start = false;
    }

    /// Ends the current row.
    pub(super) fn end_row(&mut self) {
        self.bytes.push(b'\n');
        self.row_start = true;
    }

    /// A field that needs no quoting (the caller guarantees: no comma, quote or newline).
    pub(super) fn str(&mut self, s: &str) {
        self.sep();
        self.bytes.extend_from_slice(s.as_bytes());
    }

    /// An empty field (a missing value).
    pub(super) fn empty(&mut self) {
        self.sep();
    }

    /// An unsigned integer.
    pub(super) fn uint(&mut self, v: u64) {
        self.sep();
        push_u64(&mut self.bytes, v);
    }

    /// `prefix` followed by `v` zero-padded to `width` digits (ids such as `C0000042`).
    pub(super) fn id(&mut self, prefix: u8, v: u64, width: usize) {
        self.sep();
        self.bytes.push(prefix);
        push_u64_padded(&mut self.bytes, v, width);
    }

    /// A float rounded to `decimals` digits after the point, trailing zeros trimmed,
    /// never in exponent notation. Non-finite values are written as empty (missing).
    pub(super) fn float(&mut self, x: f64, decimals: u32) {
        self.sep();
        push_fixed(&mut self.bytes, x, decimals);
    }

    /// A 0/1 flag.
    pub(super) fn flag(&mut self, b: bool) {
        self.sep();
        self.bytes.push(if b { b'1' } else { b'0' });
    }

    /// An ISO-8601 UTC timestamp, `seconds` after 1970-01-01T00:00:00Z.
    pub(super) fn timestamp(&mut self, seconds: i64) {
        self.sep();
        push_timestamp(&mut self.bytes, seconds);
    }

    /// `Some` as an integer, `None` as an empty field.
    pub(super) fn opt_uint(&mut self, v: Option<u64>) {
        match v {
            Some(v) => self.uint(v),
            None => self.empty(),
        }
    }

    /// `Some` as a plain string field, `None` as an empty field.
    pub(super) fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.empty(),
        }
    }
}

fn push_2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

fn push_timestamp(out: &mut Vec<u8>, seconds: i64) {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400) as u32;
    let (year, month, day) = crate::date::civil_from_days(days);
    push_u64_padded(out, year.max(0) as u64, 4);
    out.push(b'-');
    push_2(out, month);
    out.push(b'-');
    push_2(out, day);
    out.push(b'T');
    push_2(out, secs / 3_600);
    out.push(b':');
    push_2(out, secs / 60 % 60);
    out.push(b':');
    push_2(out, secs % 60);
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(x: f64, d: u32) -> String {
        let mut v = Vec::new();
        push_fixed(&mut v, x, d);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn floats_are_fixed_point_and_trimmed() {
        assert_eq!(fixed(12.5, 2), "12.5");
        assert_eq!(fixed(12.0, 2), "12");
        assert_eq!(fixed(0.0004, 3), "0");
        assert_eq!(fixed(-0.0004, 3), "0");
        assert_eq!(fixed(-0.25, 3), "-0.25");
        assert_eq!(fixed(1.23456, 3), "1.235");
        assert_eq!(fixed(0.05, 2), "0.05");
        assert_eq!(fixed(1.0e7, 1), "10000000");
        assert_eq!(fixed(f64::NAN, 2), "");
    }

    #[test]
    fn ids_are_zero_padded() {
        let mut b = CsvBuf::with_capacity(16);
        b.id(b'C', 42, 7);
        b.id(b'O', 12345, 3);
        assert_eq!(b.as_bytes(), b"C0000042,O12345");
    }

    #[test]
    fn timestamps_are_iso_8601_utc() {
        let mut b = CsvBuf::with_capacity(64);
        // 2024-01-01T00:00:00Z and 2024-02-29T23:59:59Z (leap day), checked with `date -u -d @…`.
        b.timestamp(1_704_067_200);
        b.timestamp(1_709_251_199);
        b.end_row();
        assert_eq!(b.as_bytes(), b"2024-01-01T00:00:00Z,2024-02-29T23:59:59Z\n");
    }
}
