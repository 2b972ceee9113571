//! How CLI commands print: aligned tables for people, JSON for scripts (`--json`).

use super::ClientError;

/// Left-aligned columns separated by two spaces.
pub fn table<const N: usize>(header: [&str; N], rows: &[[&str; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), ClientError> {
    let text = serde_json::to_string_pretty(value).map_err(|error| ClientError::Transport(error.to_string()))?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let text = table(["A", "STATUS"], &[["gateway", "running"], ["x", "y"]]);
        assert_eq!(text, "A        STATUS\ngateway  running\nx        y\n");
    }
}
