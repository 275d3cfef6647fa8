//! The one result model: every figure is a [`Row`] with its bound next to it, printed as one
//! table and written as JSON with the same numbers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

/// The six things the benchmark measures, in the order they are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    AutotaskCalls,
    Latency,
    ColdStart,
    PeakMemory,
    BulkThroughput,
    BinarySize,
    Limiter,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Section::AutotaskCalls => "1. Autotask calls per operation (sandbox counters)",
            Section::Latency => "2. Latency per operation (sandbox answers after an injected delay)",
            Section::ColdStart => "3. Cold start: process start to first response (Runtime API emulator)",
            Section::PeakMemory => "4. Peak memory (VmHWM of the real binary)",
            Section::BulkThroughput => "5. Bulk sync throughput",
            Section::BinarySize => "6. Release binary size",
            Section::Limiter => "7. Tenant-wide Autotask limiter (call slots in DynamoDB)",
        }
    }
}

/// How a figure compares with its target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum Verdict {
    /// Within the target.
    Met,
    /// Outside the target (printed as MISSED; the run still succeeds).
    Missed,
    /// A reference or a figure without a target.
    Info,
    /// The operation could not be measured; the reason says why.
    NotMeasured(String),
}

impl Verdict {
    pub fn against(met: bool) -> Self {
        if met { Verdict::Met } else { Verdict::Missed }
    }

    fn label(&self) -> &str {
        match self {
            Verdict::Met => "ok",
            Verdict::Missed => "MISSED",
            Verdict::Info => "",
            Verdict::NotMeasured(_) => "not measured",
        }
    }
}

/// One line of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub section: Section,
    /// The operation, function or reference measured.
    pub subject: String,
    /// Human-readable measurement, e.g. "14 calls (11 reads, 3 writes)".
    pub measured: String,
    /// The bound, target or reference it is compared with.
    pub bound: String,
    pub verdict: Verdict,
    /// The same numbers for machines, keyed by metric name (units in the key: `_ms`, `_kib`, …).
    pub values: BTreeMap<String, f64>,
}

impl Row {
    pub fn new(section: Section, subject: impl Into<String>) -> Self {
        Self {
            section,
            subject: subject.into(),
            measured: String::new(),
            bound: String::new(),
            verdict: Verdict::Info,
            values: BTreeMap::new(),
        }
    }

    pub fn measured(mut self, text: impl Into<String>) -> Self {
        self.measured = text.into();
        self
    }

    pub fn bound(mut self, text: impl Into<String>) -> Self {
        self.bound = text.into();
        self
    }

    pub fn verdict(mut self, verdict: Verdict) -> Self {
        self.verdict = verdict;
        self
    }

    pub fn value(mut self, key: &str, value: f64) -> Self {
        self.values.insert(key.to_owned(), value);
        self
    }

    /// A row that says why there is no number (never a made-up one).
    pub fn not_measured(section: Section, subject: impl Into<String>, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(section, subject)
            .measured(format!("not measured ({reason})"))
            .verdict(Verdict::NotMeasured(reason))
    }
}

/// Everything one run produced.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub started_at: String,
    pub git_commit: Option<String>,
    pub host: String,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn extend(&mut self, rows: impl IntoIterator<Item = Row>) {
        self.rows.extend(rows);
    }

    pub fn missed(&self) -> usize {
        self.rows.iter().filter(|r| r.verdict == Verdict::Missed).count()
    }

    pub fn not_measured(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::NotMeasured(_)))
            .count()
    }

    /// The table: one block per section, each figure next to its bound and verdict.
    pub fn render_table(&self) -> String {
        const HEADERS: [&str; 4] = ["subject", "measured", "bound / target / reference", "verdict"];
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|r| r.section); // stable: keeps the order within a section
        let cells: Vec<[&str; 4]> = rows
            .iter()
            .map(|r| {
                [
                    r.subject.as_str(),
                    r.measured.as_str(),
                    r.bound.as_str(),
                    r.verdict.label(),
                ]
            })
            .collect();
        let mut widths = HEADERS.map(str::len);
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let total: usize = widths.iter().sum::<usize>() + 3 * (widths.len() - 1);
        let line = |out: &mut String, cells: &[&str; 4]| {
            let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| pad(c, w)).collect();
            let _ = writeln!(out, "{}", padded.join(" | ").trim_end());
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Benchmark ({} run, {}, commit {})",
            self.mode,
            self.started_at,
            self.git_commit.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(out, "host: {}", self.host);
        line(&mut out, &HEADERS);
        let mut current = None;
        for (row, cells) in rows.iter().zip(&cells) {
            if current != Some(row.section) {
                current = Some(row.section);
                let _ = writeln!(out, "{}", "-".repeat(total));
                let _ = writeln!(out, "{}", row.section.title());
            }
            line(&mut out, cells);
        }
        let _ = writeln!(out, "{}", "-".repeat(total));
        let _ = writeln!(
            out,
            "{} figures, {} MISSED, {} not measured",
            self.rows.len(),
            self.missed(),
            self.not_measured()
        );
        out
    }

    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }
}

fn pad(cell: &str, width: usize) -> String {
    let len = cell.chars().count();
    format!("{cell}{}", " ".repeat(width.saturating_sub(len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(rows: Vec<Row>) -> Report {
        Report {
            mode: "quick",
            started_at: "t".into(),
            git_commit: None,
            host: "h".into(),
            rows,
        }
    }

    #[test]
    fn table_groups_rows_by_section_and_counts_verdicts() {
        // GIVEN rows of two sections pushed out of order, one missed and one not measured
        let r = report(vec![
            Row::new(Section::BinarySize, "export-customer")
                .measured("7.1 MB")
                .verdict(Verdict::Info),
            Row::new(Section::ColdStart, "export-customer")
                .measured("41 ms")
                .bound("≤ 30 ms")
                .verdict(Verdict::Missed),
            Row::not_measured(Section::ColdStart, "sync-worker", "binary not on main"),
        ]);
        // WHEN the table is rendered
        let table = r.render_table();
        // THEN the cold-start block comes first, the missed figure is flagged and the reason shown
        let cold = table.find(Section::ColdStart.title()).unwrap();
        let size = table.find(Section::BinarySize.title()).unwrap();
        assert!(cold < size);
        assert!(table.contains("MISSED"));
        assert!(table.contains("not measured (binary not on main)"));
        assert!(table.contains("3 figures, 1 MISSED, 1 not measured"));
    }

    #[test]
    fn json_keeps_values_and_reasons() {
        let r = report(vec![
            Row::new(Section::Latency, "op").value("p50_ms", 12.5),
            Row::not_measured(Section::Latency, "op2", "why"),
        ]);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["rows"][0]["values"]["p50_ms"], 12.5);
        assert_eq!(json["rows"][1]["verdict"]["status"], "not_measured");
        assert_eq!(json["rows"][1]["verdict"]["reason"], "why");
    }
}
