//! Customer events: one JSON object per line, `{"ts": <unix seconds>, "customer_id": "...",
//! "type": "...", <fields>}` (documented in docs/realtime.md §1).
//!
//! Two families share the stream: usage and care events ([`Event`], what the customer table's
//! monthly columns aggregate) and offer responses ([`Response`], `type: "offer_response"`: the
//! outcome of a contact, what the contact policy learns from online). [`parse_record`] reads
//! either.
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

/// The outcome of an offer contact: the customer accepted the offer, or its response window
/// closed without an answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Response {
    /// When the outcome became known (the answer, or the end of the response window).
    pub ts: i64,
    pub customer_id: String,
    /// The contact's id in the contact log, when the producer has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    pub offer_id: String,
    /// The arm the contact was made through (`channel@daytype_daypart`).
    pub arm: String,
    pub accepted: bool,
}

/// One input record: a usage or care event, or an offer response.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Usage(Event),
    Response(Response),
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
    OfferResponse {
        #[serde(default)]
        contact_id: Option<String>,
        offer_id: String,
        arm: String,
        accepted: bool,
    },
}

/// Parses one usage or care event line (an offer response is an error here); `source_name` and
/// `line` only label the error.
pub fn parse_event(text: &[u8], source_name: &str, line: u64) -> Result<Event, EventError> {
    match parse_record(text, source_name, line)? {
        Record::Usage(e) => Ok(e),
        Record::Response(_) => Err(EventError {
            source_name: source_name.to_string(),
            line,
            message: "an offer_response where a usage event was expected".into(),
        }),
    }
}

/// Parses one event line of either family; `source_name` and `line` only label the error.
pub fn parse_record(text: &[u8], source_name: &str, line: u64) -> Result<Record, EventError> {
    let err = |message: String| EventError {
        source_name: source_name.to_string(),
        line,
        message,
    };
    let raw: Line = serde_json::from_slice(text).map_err(|e| {
        err(format!(
            "not a valid event ({e}); expected {{\"ts\": <unix seconds>, \"customer_id\": \"...\", \"type\": \"call|data|sms|roaming|top_up|bill|late_payment|ticket|app_session|web_visit|social|offer_response\", ...}}"
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
        Wire::OfferResponse {
            contact_id,
            offer_id,
            arm,
            accepted,
        } => {
            if offer_id.is_empty() || arm.is_empty() {
                return Err(err(
                    "an offer_response needs a non-empty `offer_id` and `arm`".into(),
                ));
            }
            return Ok(Record::Response(Response {
                ts: raw.ts,
                customer_id: raw.customer_id,
                contact_id,
                offer_id,
                arm,
                accepted,
            }));
        }
    };
    Ok(Record::Usage(Event {
        ts: raw.ts,
        customer_id: raw.customer_id,
        kind,
    }))
}

/// Appends the JSON line of an offer response to `out` (the format [`parse_record`] reads),
/// starting `{"ts":<digits>,` like every generated line (the generator's merge reads it there).
pub fn write_response(out: &mut Vec<u8>, r: &Response) {
    use std::io::Write;
    let text = |s: &str| serde_json::to_string(s).expect("a string serializes");
    write!(
        out,
        "{{\"ts\":{},\"customer_id\":{},\"type\":\"offer_response\"",
        r.ts,
        text(&r.customer_id)
    )
    .expect("vec write");
    if let Some(c) = &r.contact_id {
        write!(out, ",\"contact_id\":{}", text(c)).expect("vec write");
    }
    writeln!(
        out,
        ",\"offer_id\":{},\"arm\":{},\"accepted\":{}}}",
        text(&r.offer_id),
        text(&r.arm),
        r.accepted
    )
    .expect("vec write");
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

/// Reads every usage and care event of a JSON-lines file (blank lines and offer responses
/// skipped).
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
        if let Record::Usage(e) = parse_record(&line, &name, i as u64 + 1)? {
            out.push(e);
        }
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
        // An offer response round-trips through its writer.
        let r = Response {
            ts: 9,
            customer_id: "C7".into(),
            contact_id: Some("7-1".into()),
            offer_id: "O003".into(),
            arm: "sms@weekday_morning".into(),
            accepted: true,
        };
        let mut line = Vec::new();
        write_response(&mut line, &r);
        assert_eq!(parse_record(&line, "w", 1).unwrap(), Record::Response(r));
        let e = parse_event(&line, "w", 4).unwrap_err();
        assert!(e.to_string().starts_with("w:4: "), "{e}");
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
            (
                br#"{"ts":5,"customer_id":"C1","type":"offer_response","offer_id":"","arm":"a","accepted":false}"#,
                "non-empty `offer_id`",
            ),
            (
                br#"{"ts":5,"customer_id":"C1","type":"offer_response","offer_id":"O1","arm":"a"}"#,
                "not a valid event",
            ),
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
