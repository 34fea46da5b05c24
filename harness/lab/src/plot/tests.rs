//! The plot functions end to end: well-formed, deterministic SVG files with their titles and
//! legends, and a "no data" note instead of an error for empty inputs.
//!
//! Set `DEMLS_PLOT_SAMPLES=<dir>` to also keep one sample of each plot in `<dir>`.

use std::path::{Path, PathBuf};

use super::lanes::tests::three_members;
use super::*;
use crate::observe::{Mark, MarkKind, MemberMeta, Observations, Observed};
use demls::api::Event;

/// Reads an SVG and checks that it is one `<svg>` element.
fn svg(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.trim_start().starts_with("<svg"),
        "{path:?} does not start with <svg"
    );
    assert!(
        text.trim_end().ends_with("</svg>"),
        "{path:?} does not end with </svg>"
    );
    assert_eq!(text.matches("<svg").count(), 1);
    text
}

/// Whether the SVG has a `<text>` element whose whole text is `s` (the backend writes the text
/// on a line of its own).
fn has_text(svg: &str, s: &str) -> bool {
    svg.contains(&format!(">\n{s}\n</text>"))
}

/// Writes a plot twice with `write` and checks the files are byte-identical; returns the text.
fn twice(name: &str, write: impl Fn(&Path) -> Result<(), PlotError>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.svg"), dir.path().join("b.svg"));
    write(&a).unwrap();
    write(&b).unwrap();
    let text = svg(&a);
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "{name} differs"
    );
    if let Some(samples) = std::env::var_os("DEMLS_PLOT_SAMPLES") {
        let samples = PathBuf::from(samples);
        std::fs::create_dir_all(&samples).unwrap();
        std::fs::copy(&a, samples.join(format!("{name}.svg"))).unwrap();
    }
    text
}

fn latencies(seed: u64, n: usize, scale: f64) -> Vec<f64> {
    // A small deterministic spread: a skewed distribution without a random number generator.
    (0..n)
        .map(|i| {
            let u = ((i as u64 * 2_654_435_761 + seed * 97) % 1000) as f64 / 1000.0;
            scale * (1.0 + 20.0 * u * u * u)
        })
        .collect()
}

#[test]
fn latency_cdf_writes_a_deterministic_svg_with_title_and_legend() {
    let sim = latencies(1, 200, 40.0);
    let lab = latencies(2, 150, 120.0);
    let series: [(&str, &[f64]); 3] = [("simulator", &sim), ("lab", &lab), ("lab, 10% loss", &[])];
    let text = twice("latency_cdf", |p| {
        latency_cdf(p, "Decision latency, 20 members", &series)
    });
    assert!(text.contains("Decision latency, 20 members"));
    assert!(text.contains("simulator (n=200)"));
    assert!(text.contains("lab (n=150)"));
    assert!(text.contains("lab, 10% loss (no data)"));
    assert!(
        text.contains("log scale"),
        "latencies from 40 ms to 2.5 s are drawn on a log axis"
    );
    assert!(text.contains("fraction of decisions"));
}

#[test]
fn latency_cdf_of_a_narrow_range_has_a_linear_axis() {
    let series: [(&str, &[f64]); 1] = [("run", &[1.0, 2.0, 3.0, 4.0])];
    let text = twice("latency_cdf_linear", |p| latency_cdf(p, "narrow", &series));
    assert!(text.contains("latency (ms)"));
    assert!(!text.contains("log scale"));
}

#[test]
fn latency_cdf_without_samples_says_no_data() {
    let none = twice("latency_cdf_empty", |p| latency_cdf(p, "nothing", &[]));
    assert!(none.contains("nothing") && none.contains("no data"));
    let series: [(&str, &[f64]); 1] = [("run", &[])];
    let empty = twice("latency_cdf_empty_series", |p| {
        latency_cdf(p, "empty", &series)
    });
    assert!(empty.contains("run (no data)"));
}

fn traffic(rate: f64, seconds: usize) -> Vec<(f64, f64)> {
    (0..=seconds)
        .map(|s| (s as f64, rate * s as f64 + 2_000.0 * (s % 3) as f64))
        .collect()
}

#[test]
fn bytes_over_time_writes_a_deterministic_svg_in_human_units() {
    let series = [
        Series {
            label: "simulator",
            points: traffic(40_000.0, 60),
        },
        Series {
            label: "lab",
            points: traffic(55_000.0, 60),
        },
    ];
    let text = twice("bytes_over_time", |p| {
        bytes_over_time(p, "Traffic per member", "bytes sent per member", &series)
    });
    assert!(text.contains("Traffic per member"));
    assert!(has_text(&text, "simulator") && has_text(&text, "lab"));
    // 55 kB/s for 60 s is about 3.1 MiB.
    assert!(text.contains("bytes sent per member (MiB)"));
    assert!(text.contains("time (s)"));
}

#[test]
fn bytes_over_time_without_points_says_no_data() {
    let text = twice("bytes_over_time_empty", |p| {
        bytes_over_time(p, "idle", "bytes", &[])
    });
    assert!(text.contains("idle") && text.contains("no data"));
    let series = [Series {
        label: "silent",
        points: vec![],
    }];
    let text = twice("bytes_over_time_empty_series", |p| {
        bytes_over_time(p, "idle", "bytes", &series)
    });
    assert!(text.contains("silent (no data)"));
    assert!(text.contains("bytes (B)"));
}

#[test]
fn epoch_timeline_writes_a_deterministic_svg_with_lanes_and_legend() {
    let obs = three_members();
    let text = twice("epoch_timeline", |p| {
        epoch_timeline(p, "Epochs, 3 members", &obs)
    });
    assert!(text.contains("Epochs, 3 members"));
    for label in [
        "m0",
        "m1",
        "m2",
        "epoch (number)",
        "down",
        "partition",
        "crash",
        "restart",
        "join requested",
        "fork resolved (kept)",
        "fork resolved (lost)",
    ] {
        assert!(has_text(&text, label), "missing {label}");
    }
    // Wide segments carry their epoch number.
    assert!(has_text(&text, "3") && has_text(&text, "4"));
    assert!(!text.contains("no data"));
}

/// `n` members over 60 s: member 0 creates the group, one member joins per 2 s epoch, every
/// fifth member crashes for 6 s, and the epoch keeps advancing every 2 s.
fn busy(n: usize) -> Observations {
    let mut obs = three_members();
    let g = demls::types::GroupId::new(b"busy".to_vec()).unwrap();
    obs.members = (0..n)
        .map(|index| MemberMeta {
            index,
            member_id: format!("m{index}"),
        })
        .collect();
    obs.events.clear();
    obs.marks.clear();
    obs.end_ms = 60_000;
    obs.events.push(Observed {
        at_ms: 0,
        member: 0,
        event: Event::GroupCreated {
            group: g.clone(),
            epoch: 0,
        },
    });
    for epoch in 1..30u64 {
        let at_ms = epoch * 2_000;
        let joiner = usize::try_from(epoch).unwrap();
        for member in 0..n.min(joiner) {
            obs.events.push(Observed {
                at_ms,
                member,
                event: advanced(&g, epoch),
            });
        }
        if joiner < n {
            obs.marks.push(Mark {
                at_ms: at_ms - 500,
                kind: MarkKind::Join { member: joiner },
            });
            obs.events.push(Observed {
                at_ms,
                member: joiner,
                event: Event::Joined {
                    group: g.clone(),
                    epoch,
                    members: 0,
                },
            });
        }
    }
    for member in (5..n).step_by(5) {
        obs.marks.push(Mark {
            at_ms: 40_000,
            kind: MarkKind::Crash { member },
        });
        obs.marks.push(Mark {
            at_ms: 46_000,
            kind: MarkKind::Restart { member },
        });
    }
    obs.marks.sort_by_key(|m| m.at_ms);
    obs.events.sort_by_key(|e| (e.at_ms, e.member));
    obs
}

fn advanced(group: &demls::types::GroupId, epoch: u64) -> Event {
    Event::EpochAdvanced {
        group: group.clone(),
        epoch,
        committer: demls::types::MemberId([0; 20]),
        added: vec![],
        removed: vec![],
        members: 0,
        authenticator: vec![],
    }
}

#[test]
fn epoch_timeline_of_twenty_busy_members_is_deterministic_and_labels_every_lane() {
    let obs = busy(20);
    let text = twice("epoch_timeline_20", |p| {
        epoch_timeline(p, "Twenty members", &obs)
    });
    for member in 0..20 {
        assert!(has_text(&text, &format!("m{member}")));
    }
    assert!(
        has_text(&text, "crash") && has_text(&text, "restart") && has_text(&text, "join requested")
    );
}

#[test]
fn epoch_numbers_are_left_out_of_segments_too_narrow_for_them() {
    let mut obs = busy(1);
    // Epochs 1 to 9 last 10 ms each, epoch 10 the rest of the minute.
    let g = demls::types::GroupId::new(b"busy".to_vec()).unwrap();
    obs.events = (0..=10u64)
        .map(|epoch| Observed {
            at_ms: epoch * 10,
            member: 0,
            event: advanced(&g, epoch),
        })
        .collect();
    let text = twice("epoch_timeline_narrow", |p| {
        epoch_timeline(p, "narrow", &obs)
    });
    assert!(has_text(&text, "10"));
    assert!(
        !has_text(&text, "7"),
        "a 10 ms segment of a 60 s run has no room for its number"
    );
}

#[test]
fn a_mark_after_the_end_of_the_run_widens_the_time_axis() {
    let mut obs = three_members();
    obs.marks.push(Mark {
        at_ms: 25_000,
        kind: MarkKind::Leave { member: 1 },
    });
    let text = twice("epoch_timeline_late_mark", |p| {
        epoch_timeline(p, "late", &obs)
    });
    assert!(has_text(&text, "leave requested"));
    assert!(has_text(&text, "25"), "the axis reaches the mark at 25 s");
}

#[test]
fn epoch_timeline_without_members_says_no_data() {
    let mut obs = three_members();
    obs.members.clear();
    obs.events.clear();
    obs.marks.clear();
    let text = twice("epoch_timeline_empty", |p| {
        epoch_timeline(p, "empty run", &obs)
    });
    assert!(text.contains("empty run") && text.contains("no data"));
}

#[test]
fn epoch_timeline_of_many_members_draws_the_first_fifty_and_says_so() {
    let mut obs = three_members();
    obs.members = (0..60)
        .map(|index| MemberMeta {
            index,
            member_id: format!("m{index}"),
        })
        .collect();
    let text = twice("epoch_timeline_60", |p| {
        epoch_timeline(p, "Large group", &obs)
    });
    assert!(text.contains("Large group (first 50 of 60 members)"));
    assert!(has_text(&text, "m49"));
    assert!(!has_text(&text, "m50"));
}

#[test]
fn an_unwritable_path_is_an_io_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("plot.svg");
    match latency_cdf(&path, "t", &[]) {
        Err(PlotError::Io { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}
