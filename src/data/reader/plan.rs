//! Matching the header against the schema: where each field goes and which rules its cells obey.

use std::collections::HashMap;

use csv::ByteRecord;

use crate::data::error::DataError;
use crate::data::schema::{Column, MissingPolicy, Role, Schema};

/// Where the value of one header field goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    Id,
    Numeric(usize),
    Categorical(usize),
    Binary(usize),
    Target(usize),
    Skip,
}

/// One header field: its destination and the rules for its cells.
#[derive(Debug)]
pub(super) struct Field {
    pub(super) slot: Slot,
    pub(super) name: String,
    pub(super) min: Option<f64>,
    pub(super) max: Option<f64>,
    pub(super) missing: MissingPolicy,
}

/// The header matched against the schema.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) fields: Vec<Field>,
    pub(super) numeric: Vec<String>,
    pub(super) categorical: Vec<String>,
    pub(super) binary: Vec<String>,
    pub(super) targets: Vec<String>,
    pub(super) extra_columns: Vec<String>,
    pub(super) absent_targets: Vec<String>,
}

impl Plan {
    pub(super) fn new(
        header: &ByteRecord,
        source: &str,
        schema: &Schema,
    ) -> Result<Plan, DataError> {
        if header.is_empty() {
            return Err(DataError::NoHeader {
                file: source.to_string(),
            });
        }
        let mut names = Vec::with_capacity(header.len());
        let mut position: HashMap<&str, usize> = HashMap::new();
        for (i, raw) in header.iter().enumerate() {
            let name =
                std::str::from_utf8(raw.trim_ascii()).map_err(|_| DataError::InvalidUtf8 {
                    file: source.to_string(),
                    line: 1,
                    index: i + 1,
                })?;
            names.push(name);
        }
        for (i, name) in names.iter().enumerate() {
            if let Some(first) = position.insert(name, i) {
                return Err(DataError::DuplicateHeader {
                    file: source.to_string(),
                    name: name.to_string(),
                    first: first + 1,
                    second: i + 1,
                });
            }
        }

        // Destination index of each schema column within its role (targets: among present ones).
        let mut plan = Plan {
            fields: Vec::with_capacity(names.len()),
            numeric: Vec::new(),
            categorical: Vec::new(),
            binary: Vec::new(),
            targets: Vec::new(),
            extra_columns: Vec::new(),
            absent_targets: Vec::new(),
        };
        let mut slot_of: HashMap<&str, Slot> = HashMap::new();
        let mut missing = Vec::new();
        for c in &schema.columns {
            let present = position.contains_key(c.name.as_str());
            if !present {
                if c.role == Role::Target {
                    plan.absent_targets.push(c.name.clone());
                } else {
                    missing.push(c.name.clone());
                }
                continue;
            }
            let slot = match c.role {
                Role::Id => Slot::Id,
                Role::Numeric => push_slot(&mut plan.numeric, c, Slot::Numeric),
                Role::Categorical => push_slot(&mut plan.categorical, c, Slot::Categorical),
                Role::Binary => push_slot(&mut plan.binary, c, Slot::Binary),
                Role::Target => push_slot(&mut plan.targets, c, Slot::Target),
                Role::Ignore => Slot::Skip,
            };
            slot_of.insert(c.name.as_str(), slot);
        }
        let mut unknown = Vec::new();
        for name in &names {
            match (slot_of.get(name), schema.column(name)) {
                (Some(&slot), Some(c)) => plan.fields.push(Field {
                    slot,
                    name: name.to_string(),
                    min: c.min,
                    max: c.max,
                    missing: c.missing,
                }),
                _ => {
                    if !schema.allow_extra_columns {
                        unknown.push(name.to_string());
                    }
                    plan.extra_columns.push(name.to_string());
                    plan.fields.push(Field {
                        slot: Slot::Skip,
                        name: name.to_string(),
                        min: None,
                        max: None,
                        missing: MissingPolicy::Impute,
                    });
                }
            }
        }
        if !missing.is_empty() || !unknown.is_empty() {
            return Err(DataError::HeaderMismatch {
                file: source.to_string(),
                missing,
                unknown,
            });
        }
        Ok(plan)
    }
}

fn push_slot(names: &mut Vec<String>, c: &Column, make: fn(usize) -> Slot) -> Slot {
    names.push(c.name.clone());
    make(names.len() - 1)
}
