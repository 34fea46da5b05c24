//! Worker process of bench/vs-reference for the de-mls 4.1.0 reference implementation: serves
//! the runner's `grow` / `remove` commands on stdin and answers with JSON records on stdout.
//! The bus, the measurement and the worker protocol are the runner's own files, included here
//! by path so that both implementations are driven and measured by the same code.

#[path = "../../src/bus.rs"]
mod bus;
mod driver;
#[allow(dead_code)]
#[path = "../../src/measure.rs"]
mod measure;
#[path = "../../src/workload.rs"]
mod workload;

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("worker") => {
            workload::serve(|rep| {
                let start_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                Ok(driver::ReferenceBench::new(start_ms, rep))
            });
        }
        _ => {
            eprintln!(
                "de-mls-reference-driver is started by the bench/vs-reference runner \
                 (usage: de-mls-reference-driver worker)"
            );
            std::process::exit(2);
        }
    }
}
