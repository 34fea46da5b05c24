//! Measurement and printing: the process CPU clock, the traffic counters, one run's record as
//! a flat JSON line (written by the workers, read back by the runner), and the summary table.
//!
//! This file is also compiled into the reference driver (`reference/src/main.rs` includes it
//! by path), so both sides measure and print exactly alike.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// CPU time consumed so far by this whole process (every thread), from
/// `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`.
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant libc knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A running measurement of CPU and wall time.
pub struct Meter {
    cpu: Duration,
    wall: Instant,
}

impl Meter {
    /// Starts measuring now.
    pub fn start() -> Meter {
        Meter {
            cpu: process_cpu_time(),
            wall: Instant::now(),
        }
    }

    /// CPU seconds and wall seconds since the start.
    pub fn stop(&self) -> (f64, f64) {
        let cpu = process_cpu_time().saturating_sub(self.cpu);
        (cpu.as_secs_f64(), self.wall.elapsed().as_secs_f64())
    }
}

/// What the instant bus carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Publications (each one payload, fanned out to every other subscriber).
    pub published: u64,
    /// Copies handed to a receiving member.
    pub delivered: u64,
    /// Bytes published (each payload once).
    pub bytes_published: u64,
    /// Bytes handed to receiving members (each delivered copy).
    pub bytes_delivered: u64,
}

impl Traffic {
    /// What was counted after `earlier`.
    pub fn since(&self, earlier: &Traffic) -> Traffic {
        Traffic {
            published: self.published - earlier.published,
            delivered: self.delivered - earlier.delivered,
            bytes_published: self.bytes_published - earlier.bytes_published,
            bytes_delivered: self.bytes_delivered - earlier.bytes_delivered,
        }
    }
}

/// One measured run of one workload on one implementation and configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// `de-mls-4.1.0` or `demls`.
    pub implementation: String,
    /// The configuration (`default` for the reference, `single`, `multi-big`, … for demls).
    pub config: String,
    /// `grow` or `remove`.
    pub workload: String,
    /// Group size (members at the end of `grow`, before the removal for `remove`).
    pub n: usize,
    /// Process CPU seconds spent in the workload.
    pub cpu_s: f64,
    /// Wall-clock seconds spent in the workload.
    pub wall_s: f64,
    /// Traffic during the workload.
    pub traffic: Traffic,
    /// Virtual (simulated) seconds the workload took.
    pub virtual_s: f64,
    /// Errors the implementation returned to the driver during the workload.
    pub errors: u64,
    /// Repetition number (1-based).
    pub rep: u32,
}

impl Record {
    /// The record as one line of flat JSON.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\"bench\":\"vs_reference\",\"impl\":\"{}\",\"config\":\"{}\",\"workload\":\"{}\",\"n\":{},\
             \"cpu_s\":{:.3},\"wall_s\":{:.3},\"published\":{},\"delivered\":{},\
             \"bytes_published\":{},\"bytes_delivered\":{},\"virtual_s\":{:.3},\"errors\":{},\"rep\":{}}}",
            self.implementation,
            self.config,
            self.workload,
            self.n,
            self.cpu_s,
            self.wall_s,
            self.traffic.published,
            self.traffic.delivered,
            self.traffic.bytes_published,
            self.traffic.bytes_delivered,
            self.virtual_s,
            self.errors,
            self.rep,
        );
        s
    }

    /// Reads back a line written by [`to_json`](Record::to_json) (flat, no escapes).
    pub fn parse(line: &str) -> Option<Record> {
        let body = line.trim().strip_prefix('{')?.strip_suffix('}')?;
        let mut r = Record {
            implementation: String::new(),
            config: String::new(),
            workload: String::new(),
            n: 0,
            cpu_s: 0.0,
            wall_s: 0.0,
            traffic: Traffic::default(),
            virtual_s: 0.0,
            errors: 0,
            rep: 0,
        };
        for field in body.split(',') {
            let (key, value) = field.split_once(':')?;
            let key = key.trim().trim_matches('"');
            let text = value.trim().trim_matches('"');
            match key {
                "impl" => r.implementation = text.to_string(),
                "config" => r.config = text.to_string(),
                "workload" => r.workload = text.to_string(),
                "n" => r.n = text.parse().ok()?,
                "cpu_s" => r.cpu_s = text.parse().ok()?,
                "wall_s" => r.wall_s = text.parse().ok()?,
                "published" => r.traffic.published = text.parse().ok()?,
                "delivered" => r.traffic.delivered = text.parse().ok()?,
                "bytes_published" => r.traffic.bytes_published = text.parse().ok()?,
                "bytes_delivered" => r.traffic.bytes_delivered = text.parse().ok()?,
                "virtual_s" => r.virtual_s = text.parse().ok()?,
                "errors" => r.errors = text.parse().ok()?,
                "rep" => r.rep = text.parse().ok()?,
                _ => {}
            }
        }
        Some(r)
    }
}

/// The median of `values` (the lower middle one for an even count); `None` if empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len().saturating_sub(1) / 2).copied()
}

/// The summary: for each workload, size and demls configuration, the reference's median CPU
/// time against demls's, their ratio, and the median traffic of both, as a Markdown table.
pub fn summary_table(records: &[Record], reference: &str, configs: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | N | demls config | reference CPU s | demls CPU s | reference/demls | \
         reference published | demls published | reference delivered | demls delivered | \
         reference MB delivered | demls MB delivered | reps |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut sizes: Vec<usize> = records.iter().map(|r| r.n).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for workload in ["grow", "remove"] {
        for &n in &sizes {
            let pick = |implementation: &str, config: Option<&str>| -> Vec<&Record> {
                records
                    .iter()
                    .filter(|r| r.workload == workload && r.n == n)
                    .filter(|r| r.implementation == implementation)
                    .filter(|r| config.is_none_or(|c| r.config == c))
                    .collect()
            };
            let stat = |rs: &[&Record], f: &dyn Fn(&Record) -> f64| -> Option<f64> {
                median(&rs.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let fmt = |v: Option<f64>, digits: usize| match v {
                Some(v) => format!("{v:.digits$}"),
                None => "—".to_string(),
            };
            let refs = pick(reference, None);
            for config in configs {
                let ours = pick("demls", Some(config));
                if refs.is_empty() && ours.is_empty() {
                    continue;
                }
                let ref_cpu = stat(&refs, &|r| r.cpu_s);
                let our_cpu = stat(&ours, &|r| r.cpu_s);
                let ratio = match (ref_cpu, our_cpu) {
                    (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                    _ => None,
                };
                let _ = writeln!(
                    out,
                    "| {workload} | {n} | {config} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |",
                    fmt(ref_cpu, 3),
                    fmt(our_cpu, 3),
                    fmt(ratio, 1),
                    fmt(stat(&refs, &|r| r.traffic.published as f64), 0),
                    fmt(stat(&ours, &|r| r.traffic.published as f64), 0),
                    fmt(stat(&refs, &|r| r.traffic.delivered as f64), 0),
                    fmt(stat(&ours, &|r| r.traffic.delivered as f64), 0),
                    fmt(stat(&refs, &|r| r.traffic.bytes_delivered as f64 / 1e6), 1),
                    fmt(stat(&ours, &|r| r.traffic.bytes_delivered as f64 / 1e6), 1),
                    refs.len(),
                    ours.len(),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_its_json_line() {
        let r = Record {
            implementation: "demls".into(),
            config: "multi-big".into(),
            workload: "grow".into(),
            n: 32,
            cpu_s: 1.25,
            wall_s: 1.5,
            traffic: Traffic {
                published: 10,
                delivered: 300,
                bytes_published: 12_345,
                bytes_delivered: 400_000,
            },
            virtual_s: 12.5,
            errors: 0,
            rep: 2,
        };
        assert_eq!(Record::parse(&r.to_json()), Some(r));
    }

    #[test]
    fn the_median_takes_the_lower_middle() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn cpu_time_advances_with_work() {
        let m = Meter::start();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
        let (cpu, wall) = m.stop();
        assert!(cpu > 0.0 && wall > 0.0);
    }
}
