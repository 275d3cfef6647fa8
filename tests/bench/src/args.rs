//! Command line: `bench [--quick] [--only SECTIONS] [--out PATH]`.

use crate::report::Section;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    /// Short smoke run: few repetitions, small sizes, host binary sizes only.
    pub quick: bool,
    /// Sections to run (all when empty).
    pub only: Vec<Section>,
    /// Where the JSON goes (default `<workspace>/target/bench/results.json`).
    pub out: Option<std::path::PathBuf>,
}

pub const USAGE: &str = "usage: bench [--quick] [--only calls,latency,cold,memory,bulk,size,limiter] [--out PATH]";

impl Args {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Args {
            quick: false,
            only: Vec::new(),
            out: None,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => parsed.quick = true,
                "--out" => parsed.out = Some(args.next().ok_or("--out needs a path")?.into()),
                "--only" => {
                    for name in args.next().ok_or("--only needs a list")?.split(',') {
                        parsed.only.push(section(name.trim())?);
                    }
                }
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(parsed)
    }

    pub fn wants(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }
}

fn section(name: &str) -> Result<Section, String> {
    Ok(match name {
        "calls" => Section::AutotaskCalls,
        "latency" => Section::Latency,
        "cold" => Section::ColdStart,
        "memory" => Section::PeakMemory,
        "bulk" => Section::BulkThroughput,
        "size" => Section::BinarySize,
        "limiter" => Section::Limiter,
        other => return Err(format!("unknown section {other:?}\n{USAGE}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_and_sections() {
        let a = Args::parse(["--quick", "--only", "cold,size"].map(String::from)).unwrap();
        assert!(a.quick);
        assert!(a.wants(Section::ColdStart) && a.wants(Section::BinarySize));
        assert!(!a.wants(Section::Latency));
        assert!(Args::parse(["--only", "nope"].map(String::from)).is_err());
        assert!(Args::parse(["--fast"].map(String::from)).is_err());
        assert!(Args::parse(Vec::<String>::new()).unwrap().wants(Section::Latency));
    }
}
