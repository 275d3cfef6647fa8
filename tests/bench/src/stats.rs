//! Order statistics over repeated samples (nearest-rank percentiles: every reported figure is
//! one that was actually observed).

use std::time::Duration;

/// The `p`-th percentile (0–100) by nearest rank; `None` for no samples.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn median(samples: &[f64]) -> Option<f64> {
    percentile(samples, 50.0)
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 7.0, 6.0, 9.0, 8.0];
        assert_eq!(median(&samples), Some(5.0));
        assert_eq!(percentile(&samples, 95.0), Some(10.0));
        assert_eq!(percentile(&samples, 10.0), Some(1.0));
        assert_eq!(percentile(&[3.0], 95.0), Some(3.0));
        assert_eq!(median(&[]), None);
    }
}
