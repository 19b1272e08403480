//! Small auxiliary CSV files (offer tables, usage histories) read with the `csv` crate.

use crate::error::UsageError;

/// Opens a small auxiliary CSV (offer table, usage history) with every field trimmed and
/// returns it with its header. An unreadable file is an error naming it; an unreadable header a
/// usage error naming `file:1`.
pub fn open_trimmed_csv(
    path: &std::path::Path,
) -> anyhow::Result<(csv::Reader<std::fs::File>, Vec<String>)> {
    let source = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
    let header = reader
        .headers()
        .map_err(|e| UsageError(format!("{source}:1: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    Ok((reader, header))
}
