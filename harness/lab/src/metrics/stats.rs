//! Percentiles and summaries of samples: the one place numbers are reduced.

use serde::{Deserialize, Serialize};

/// Percentiles of a sample (nearest-rank), in the sample's unit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
}

/// Rounds to 0.1 (metrics are read by people; three decimals of a millisecond are noise).
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The nearest-rank percentile `q` (0..=1) of sorted `v`.
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

impl Percentiles {
    /// The percentiles of `samples`.
    pub fn of(samples: &[f64]) -> Percentiles {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let mean = (!v.is_empty()).then(|| round1(v.iter().sum::<f64>() / v.len() as f64));
        Percentiles {
            count: v.len(),
            p50: nearest_rank(&v, 0.5).map(round1),
            p90: nearest_rank(&v, 0.9).map(round1),
            p99: nearest_rank(&v, 0.99).map(round1),
            max: v.last().copied().map(round1),
            mean,
        }
    }
}

/// Mean, smallest and largest of one figure over several runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Runs with a value.
    pub runs: usize,
    /// Mean.
    pub mean: Option<f64>,
    /// Smallest.
    pub min: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

impl Spread {
    /// The spread of the values present.
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Spread {
        let v: Vec<f64> = values
            .into_iter()
            .flatten()
            .filter(|x| x.is_finite())
            .collect();
        if v.is_empty() {
            return Spread::default();
        }
        Spread {
            runs: v.len(),
            mean: Some(round1(v.iter().sum::<f64>() / v.len() as f64)),
            min: v.iter().copied().reduce(f64::min).map(round1),
            max: v.iter().copied().reduce(f64::max).map(round1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_of_a_small_sample() {
        let p = Percentiles::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(p.count, 4);
        assert_eq!(p.p50, Some(2.0));
        assert_eq!(p.p90, Some(4.0));
        assert_eq!(p.max, Some(4.0));
        assert_eq!(p.mean, Some(2.5));
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&hundred);
        assert_eq!((p.p50, p.p90, p.p99), (Some(50.0), Some(90.0), Some(99.0)));
    }

    #[test]
    fn a_spread_ignores_missing_values() {
        let s = Spread::of([Some(1.0), None, Some(3.0)]);
        assert_eq!(
            (s.runs, s.mean, s.min, s.max),
            (2, Some(2.0), Some(1.0), Some(3.0))
        );
        assert_eq!(Spread::of([None]), Spread::default());
    }
}
