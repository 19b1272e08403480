//! Customer events: one JSON object per line, `{"ts": <unix seconds>, "customer_id": "...",
//! "type": "...", <fields>}` (documented in docs/events.md).
//!
//! Values are converted to the fixed-point units the customer table writes (tenths of a minute,
//! thousandths of a GB, cents, tenths of an hour, thousandths of a sentiment point), so window
//! sums are exact integers. Unknown fields are ignored (producers may add their own); an unknown
//! `type`, a missing field, a negative amount or a sentiment outside [-1, 1] is an error naming
//! the source and line.

use serde::Deserialize;
use thiserror::Error;

/// One event, validated and in fixed-point units.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Event time, Unix seconds (UTC).
    pub ts: i64,
    pub customer_id: String,
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventKind {
    /// A call of `tenths` tenths of a minute; night and weekend are read from its start time.
    Call {
        tenths: u64,
        international: bool,
    },
    /// A data session of `units` thousandths of a GB.
    Data {
        units: u64,
    },
    Sms,
    /// Usage while roaming (the day counts once however many events it has).
    Roaming,
    /// A prepaid top-up, cents.
    TopUp {
        cents: u64,
    },
    /// A postpaid bill, cents.
    Bill {
        cents: u64,
    },
    LatePayment,
    /// A care ticket: tenths of an hour to resolve, sentiment in thousandths.
    Ticket {
        tenths: u64,
        sentiment: i64,
    },
    AppSession,
    WebVisit,
    /// A brand-related social interaction, sentiment in thousandths.
    Social {
        sentiment: i64,
    },
}

/// Why an event line was refused.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{source_name}:{line}: {message}")]
pub struct EventError {
    /// The file, topic or request the line came from.
    pub source_name: String,
    /// 1-based line (or the record's offset for a topic).
    pub line: u64,
    pub message: String,
}

#[derive(Deserialize)]
struct Line {
    ts: i64,
    customer_id: String,
    #[serde(flatten)]
    kind: Wire,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    Call {
        minutes: f64,
        #[serde(default)]
        international: bool,
    },
    Data {
        gb: f64,
    },
    Sms {},
    Roaming {},
    TopUp {
        amount: f64,
    },
    Bill {
        amount: f64,
    },
    LatePayment {},
    Ticket {
        resolution_hours: f64,
        sentiment: f64,
    },
    AppSession {},
    WebVisit {},
    Social {
        sentiment: f64,
    },
}

/// Parses one event line; `source_name` and `line` only label the error.
pub fn parse_event(text: &[u8], source_name: &str, line: u64) -> Result<Event, EventError> {
    let err = |message: String| EventError {
        source_name: source_name.to_string(),
        line,
        message,
    };
    let raw: Line = serde_json::from_slice(text).map_err(|e| {
        err(format!(
            "not a valid event ({e}); expected {{\"ts\": <unix seconds>, \"customer_id\": \"...\", \"type\": \"call|data|sms|roaming|top_up|bill|late_payment|ticket|app_session|web_visit|social\", ...}}"
        ))
    })?;
    if raw.customer_id.is_empty() {
        return Err(err("empty customer_id".into()));
    }
    let amount = |name: &str, x: f64, decimals: i32| -> Result<u64, EventError> {
        if !(0.0..=1e12).contains(&x) {
            return Err(err(format!(
                "`{name}` = {x} must be a finite number between 0 and 1e12"
            )));
        }
        Ok((x * 10f64.powi(decimals)).round() as u64)
    };
    let sentiment = |x: f64| -> Result<i64, EventError> {
        if !(-1.0..=1.0).contains(&x) {
            return Err(err(format!("`sentiment` = {x} must be in [-1, 1]")));
        }
        let scaled = (x.abs() * 1000.0).round() as i64;
        Ok(if x < 0.0 { -scaled } else { scaled })
    };
    let kind = match raw.kind {
        Wire::Call {
            minutes,
            international,
        } => EventKind::Call {
            tenths: amount("minutes", minutes, 1)?,
            international,
        },
        Wire::Data { gb } => EventKind::Data {
            units: amount("gb", gb, 3)?,
        },
        Wire::Sms {} => EventKind::Sms,
        Wire::Roaming {} => EventKind::Roaming,
        Wire::TopUp { amount: a } => EventKind::TopUp {
            cents: amount("amount", a, 2)?,
        },
        Wire::Bill { amount: a } => EventKind::Bill {
            cents: amount("amount", a, 2)?,
        },
        Wire::LatePayment {} => EventKind::LatePayment,
        Wire::Ticket {
            resolution_hours,
            sentiment: s,
        } => EventKind::Ticket {
            tenths: amount("resolution_hours", resolution_hours, 1)?,
            sentiment: sentiment(s)?,
        },
        Wire::AppSession {} => EventKind::AppSession,
        Wire::WebVisit {} => EventKind::WebVisit,
        Wire::Social { sentiment: s } => EventKind::Social {
            sentiment: sentiment(s)?,
        },
    };
    Ok(Event {
        ts: raw.ts,
        customer_id: raw.customer_id,
        kind,
    })
}

/// Appends the JSON line of an event of customer `id` (already a valid JSON string body) at `ts`
/// to `out`: the format [`parse_event`] reads, values with the table's decimals.
pub fn write_event(out: &mut Vec<u8>, id: &[u8], ts: i64, kind: &EventKind) {
    use crate::data::fixed::push_fixed;
    use std::io::Write;
    write!(out, "{{\"ts\":{ts},\"customer_id\":\"").expect("vec write");
    out.extend_from_slice(id);
    out.extend_from_slice(b"\",\"type\":\"");
    let (name, fields): (&str, &[(&str, i64, u32)]) = match *kind {
        EventKind::Call {
            tenths,
            international,
        } => {
            out.extend_from_slice(b"call\",\"minutes\":");
            push_fixed(out, tenths as f64 / 10.0, 1);
            write!(out, ",\"international\":{international}}}").expect("vec write");
            out.push(b'\n');
            return;
        }
        EventKind::Data { units } => ("data", &[("gb", units as i64, 3)]),
        EventKind::Sms => ("sms", &[]),
        EventKind::Roaming => ("roaming", &[]),
        EventKind::TopUp { cents } => ("top_up", &[("amount", cents as i64, 2)]),
        EventKind::Bill { cents } => ("bill", &[("amount", cents as i64, 2)]),
        EventKind::LatePayment => ("late_payment", &[]),
        EventKind::Ticket { tenths, sentiment } => (
            "ticket",
            &[
                ("resolution_hours", tenths as i64, 1),
                ("sentiment", sentiment, 3),
            ],
        ),
        EventKind::AppSession => ("app_session", &[]),
        EventKind::WebVisit => ("web_visit", &[]),
        EventKind::Social { sentiment } => ("social", &[("sentiment", sentiment, 3)]),
    };
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
    for &(key, units, decimals) in fields {
        write!(out, ",\"{key}\":").expect("vec write");
        push_fixed(out, units as f64 / 10f64.powi(decimals as i32), decimals);
    }
    out.extend_from_slice(b"}\n");
}

/// Reads every event of a JSON-lines file (blank lines skipped).
pub fn read_events(path: &std::path::Path) -> anyhow::Result<Vec<Event>> {
    use std::io::BufRead;
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot read {name}: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let line = line.map_err(|e| anyhow::anyhow!("cannot read {name}: {e}"))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(parse_event(&line, &name, i as u64 + 1)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_type_and_names_the_line_of_a_bad_one() {
        let ok = parse_event(
            br#"{"ts":5,"customer_id":"C1","type":"ticket","resolution_hours":2.5,"sentiment":-0.25,"extra":1}"#,
            "e.jsonl",
            3,
        )
        .unwrap();
        assert_eq!(
            ok.kind,
            EventKind::Ticket {
                tenths: 25,
                sentiment: -250
            }
        );
        let call = parse_event(
            br#"{"ts":5,"customer_id":"C1","type":"call","minutes":3.4}"#,
            "e",
            1,
        )
        .unwrap();
        assert_eq!(
            call.kind,
            EventKind::Call {
                tenths: 34,
                international: false
            }
        );
        // What the generator writes reads back as the same event.
        for kind in [
            EventKind::Call {
                tenths: 1234,
                international: true,
            },
            EventKind::Data { units: 5 },
            EventKind::Sms,
            EventKind::TopUp { cents: 1999 },
            EventKind::Ticket {
                tenths: 0,
                sentiment: -1000,
            },
            EventKind::Social { sentiment: 7 },
        ] {
            let mut line = Vec::new();
            write_event(&mut line, b"C0000042", 1_735_000_000, &kind);
            assert_eq!(line.last(), Some(&b'\n'));
            let back = parse_event(&line, "w", 1).unwrap();
            assert_eq!(
                (back.ts, back.customer_id.as_str(), back.kind),
                (1_735_000_000, "C0000042", kind)
            );
        }
        for (bad, needle) in [
            (
                &br#"{"ts":5,"customer_id":"C1","type":"fax"}"#[..],
                "not a valid event",
            ),
            (
                br#"{"ts":5,"customer_id":"C1","type":"data","gb":-1}"#,
                "`gb`",
            ),
            (
                br#"{"ts":5,"customer_id":"C1","type":"social","sentiment":2}"#,
                "[-1, 1]",
            ),
            (
                br#"{"ts":5,"customer_id":"","type":"sms"}"#,
                "empty customer_id",
            ),
            (br#"{"customer_id":"C1","type":"sms"}"#, "not a valid event"),
        ] {
            let e = parse_event(bad, "e.jsonl", 7).unwrap_err();
            let text = e.to_string();
            assert!(
                text.starts_with("e.jsonl:7: ") && text.contains(needle),
                "{text}"
            );
        }
    }
}
