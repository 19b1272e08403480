//! Label files: `customer_id,<label>` CSVs such as `personas.csv` (the generator's true
//! personas), `dec/segments.csv` (a DEC run's segments) and a user's own labels. One writer and
//! one reader, both through the csv crate (quoted ids survive a round trip).

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

use crate::checkpoint;
use crate::error::UsageError;

/// Writes `customer_id,<column>` with one row per id, atomically.
pub fn write_labels<L: ToString>(
    path: &Path,
    column: &str,
    ids: &[String],
    labels: &[L],
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["customer_id", column])?;
    for (id, label) in ids.iter().zip(labels) {
        w.write_record([id.as_str(), label.to_string().as_str()])?;
    }
    let bytes = w.into_inner().context("finishing the label CSV")?;
    checkpoint::write_atomic(path, &bytes)?;
    Ok(())
}

/// Reads a label file: the id is the first column, the label the column named `column` (else
/// the second). Every row needs an id and a non-empty label; errors name the file and line.
pub fn read_labels(path: &Path, column: &str) -> anyhow::Result<HashMap<String, String>> {
    if !path.is_file() {
        anyhow::bail!(UsageError(format!(
            "{}: no such labels file (expected a CSV `customer_id,{column}`)",
            path.display()
        )));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("reading labels {}", path.display()))?;
    let headers = rdr
        .headers()
        .with_context(|| format!("{}: reading the header", path.display()))?
        .clone();
    let col = headers.iter().position(|h| h == column).unwrap_or(1);
    if headers.len() <= col {
        anyhow::bail!(UsageError(format!(
            "{}:1: expected a header `customer_id,{column}` (an id and a label column)",
            path.display()
        )));
    }
    let mut out = HashMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{}:{line}: unreadable row", path.display()))?;
        match (rec.get(0), rec.get(col)) {
            (Some(id), Some(label)) if !id.is_empty() && !label.is_empty() => {
                out.insert(id.to_string(), label.to_string());
            }
            _ => anyhow::bail!(UsageError(format!(
                "{}:{line}: expected a customer id and a non-empty {column}",
                path.display()
            ))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_quoted_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segments.csv");
        let ids = vec!["a,1".to_string(), "b\"2".to_string()];
        write_labels(&path, "segment", &ids, &[3usize, 0]).unwrap();
        let back = read_labels(&path, "segment").unwrap();
        assert_eq!(back["a,1"], "3");
        assert_eq!(back["b\"2"], "0");
    }

    #[test]
    fn label_column_by_name_else_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, "customer_id,x,persona\nc1,7,gamer\n").unwrap();
        assert_eq!(read_labels(&path, "persona").unwrap()["c1"], "gamer");
        assert_eq!(read_labels(&path, "segment").unwrap()["c1"], "7");
    }

    #[test]
    fn empty_label_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, "customer_id,segment\nc1,2\nc2,\n").unwrap();
        let err = read_labels(&path, "segment").unwrap_err();
        assert!(err.to_string().contains("p.csv:3"), "{err}");
        assert!(err.downcast_ref::<UsageError>().is_some());
    }
}
