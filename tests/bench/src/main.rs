//! `cargo run --release -p bench -- [--quick]`: prints the benchmark table, writes the JSON.

use bench::args::Args;

#[tokio::main]
async fn main() {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    match bench::run(&args).await {
        Ok(report) => print!("{}", report.render_table()),
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
    }
}
