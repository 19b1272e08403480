//! Fixed-point numbers as text: the one formatting of the generator's tables, the event lines
//! and the streamed features (decimals fixed, trailing zeros trimmed, never an exponent), so a
//! value written by one and recomputed by another compares equal as text.

/// `x` in units of `10^-decimals`, rounded half away from zero (as [`push_fixed`] writes it).
pub fn units(x: f64, decimals: u32) -> i64 {
    let scaled = (x.abs() * 10f64.powi(decimals as i32)).round() as i64;
    if x < 0.0 { -scaled } else { scaled }
}

/// `units · 10^-decimals` as text: trailing zeros trimmed, `0` for zero.
pub fn fixed_text(units: i64, decimals: u32) -> String {
    let scale = 10i64.pow(decimals);
    let (sign, abs) = if units < 0 {
        ("-", -units)
    } else {
        ("", units)
    };
    let (int, mut frac) = (abs / scale, abs % scale);
    if frac == 0 {
        return if abs == 0 {
            "0".into()
        } else {
            format!("{sign}{int}")
        };
    }
    let mut width = decimals as usize;
    while frac % 10 == 0 {
        frac /= 10;
        width -= 1;
    }
    format!("{sign}{int}.{frac:0width$}")
}

/// `x` rounded to `decimals` (half away from zero) as [`fixed_text`].
pub fn fixed_text_f64(x: f64, decimals: u32) -> String {
    let scaled = (x.abs() * 10f64.powi(decimals as i32)).round() as i64;
    fixed_text(if x < 0.0 { -scaled } else { scaled }, decimals)
}

/// Appends `v` in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `v` in decimal, left-padded with zeros to `width` digits.
pub fn push_u64_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    let mut rest = v;
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let start = i.min(digits.len().saturating_sub(width));
    out.extend_from_slice(&digits[start..]);
}

const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Appends `x` rounded to `decimals` digits after the point, trailing zeros trimmed, never in
/// exponent notation; nothing for a non-finite `x` (a missing cell).
pub fn push_fixed(out: &mut Vec<u8>, x: f64, decimals: u32) {
    if !x.is_finite() {
        return;
    }
    let scale = POW10[decimals.min(9) as usize];
    let scaled = (x.abs() * scale as f64).round();
    if scaled >= 1.8e19 {
        // Beyond u64: no generated value gets here, but stay correct rather than wrap.
        out.extend_from_slice(format!("{x:.0}").as_bytes());
        return;
    }
    let scaled = scaled as u64;
    if scaled == 0 {
        out.push(b'0');
        return;
    }
    if x < 0.0 {
        out.push(b'-');
    }
    push_u64(out, scaled / scale);
    let mut frac = scaled % scale;
    if frac == 0 {
        return;
    }
    let mut width = decimals as usize;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    out.push(b'.');
    push_u64_padded(out, frac, width);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_floats_format_alike() {
        assert_eq!(fixed_text(-445, 3), "-0.445");
        assert_eq!(fixed_text(1200, 2), "12");
        assert_eq!(fixed_text(1205, 3), "1.205");
        assert_eq!(fixed_text(0, 3), "0");
        for (x, d) in [
            (2.25, 1),
            (-0.4446, 3),
            (0.0004, 3),
            (1234.5678, 2),
            (7.0, 1),
        ] {
            let mut out = Vec::new();
            push_fixed(&mut out, x, d);
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text, fixed_text(units(x, d), d), "{x}");
            assert_eq!(text, fixed_text_f64(x, d), "{x}");
        }
        assert_eq!(
            (units(2.25, 1), units(-0.4446, 3), units(0.0004, 3)),
            (23, -445, 0)
        );
    }
}
