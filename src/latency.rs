//! Latency percentiles in fixed memory: a log-linear histogram (the layout
//! of HdrHistogram) of item times in microseconds.
//!
//! "Which of these endpoints are slow?" wants p50/p90/p99 over possibly
//! millions of items; keeping every time to sort would grow with the input.
//! Here each power of two of microseconds is split into [`SUB_BUCKETS`]
//! equal buckets, so a bucket is never wider than 1/64 of its lower bound:
//! a percentile is reported as its bucket's midpoint, within 1/128 (0.8 %)
//! of the true value, and times under 64 µs are exact. The whole histogram
//! is about 20 KiB whatever the count. The maximum is kept exactly.

use serde::Serialize;
use std::time::Duration;

/// Buckets per power of two (2^6): the relative error is half of 1/64.
const SUB_BUCKET_BITS: u32 = 6;
const SUB_BUCKETS: usize = 1 << SUB_BUCKET_BITS;
/// Powers of two above the first range: up to 2^(6+41) µs, about 4.5 years.
const RANGES: usize = 42;

/// The largest relative error of a reported percentile (bucket half-width
/// over its lower bound), for the docs and tests.
#[cfg(test)]
pub(crate) const RELATIVE_ERROR: f64 = 1.0 / (2 * SUB_BUCKETS) as f64;

/// Counts of item times, in log-linear buckets.
#[derive(Debug, Clone)]
pub(crate) struct LatencyHistogram {
    counts: Box<[u64]>,
    total: u64,
    max_micros: u64,
}

/// The figures a summary shows, in milliseconds (three decimals).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Percentiles {
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: vec![0; SUB_BUCKETS * (RANGES + 1)].into_boxed_slice(),
            total: 0,
            max_micros: 0,
        }
    }
}

/// The bucket of a value: values below 64 have one each; above, the top
/// six bits after the leading one pick the sub-bucket of its power of two.
fn bucket_of(micros: u64) -> usize {
    if micros < SUB_BUCKETS as u64 {
        return micros as usize;
    }
    let magnitude = 63 - micros.leading_zeros(); // >= SUB_BUCKET_BITS
    let range = (magnitude - SUB_BUCKET_BITS + 1) as usize;
    let sub = (micros >> (magnitude - SUB_BUCKET_BITS)) as usize - SUB_BUCKETS;
    (range * SUB_BUCKETS + sub).min(SUB_BUCKETS * (RANGES + 1) - 1)
}

/// The smallest value of a bucket and its width.
fn bucket_bounds(bucket: usize) -> (u64, u64) {
    if bucket < SUB_BUCKETS {
        return (bucket as u64, 1);
    }
    let range = (bucket / SUB_BUCKETS) as u32;
    let sub = (bucket % SUB_BUCKETS) as u64;
    let shift = range - 1;
    ((SUB_BUCKETS as u64 + sub) << shift, 1 << shift)
}

impl LatencyHistogram {
    pub(crate) fn record(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.counts[bucket_of(micros)] += 1;
        self.total += 1;
        self.max_micros = self.max_micros.max(micros);
    }

    /// How many times were recorded.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0 < q <= 1) by nearest rank: the smallest
    /// recorded value with at least `q` of all values at or below it,
    /// reported as its bucket's midpoint (never above the maximum).
    fn quantile_micros(&self, q: f64) -> f64 {
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = bucket_bounds(bucket);
                let middle = low as f64 + (width as f64 - 1.0) / 2.0;
                return middle.min(self.max_micros as f64);
            }
        }
        self.max_micros as f64
    }

    /// p50, p90, p99 and the maximum; `None` before anything was recorded.
    pub(crate) fn percentiles(&self) -> Option<Percentiles> {
        if self.total == 0 {
            return None;
        }
        let ms = |micros: f64| micros.round() / 1000.0;
        Some(Percentiles {
            p50_ms: ms(self.quantile_micros(0.50)),
            p90_ms: ms(self.quantile_micros(0.90)),
            p99_ms: ms(self.quantile_micros(0.99)),
            max_ms: ms(self.max_micros as f64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(sorted: &[u64], q: f64) -> u64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn buckets_cover_every_value_once_and_in_order() {
        let mut previous_end = 0u64;
        for bucket in 0..SUB_BUCKETS * 8 {
            let (low, width) = bucket_bounds(bucket);
            assert_eq!(
                low, previous_end,
                "bucket {bucket} starts where the last ended"
            );
            assert_eq!(bucket_of(low), bucket);
            assert_eq!(bucket_of(low + width - 1), bucket);
            assert!(width as f64 <= (low.max(1) as f64) / SUB_BUCKETS as f64 || low < 64);
            previous_end = low + width;
        }
        assert_eq!(bucket_of(u64::MAX), SUB_BUCKETS * (RANGES + 1) - 1);
    }

    #[test]
    fn small_times_are_exact() {
        let mut histogram = LatencyHistogram::default();
        for micros in [5u64, 17, 63] {
            histogram.record(Duration::from_micros(micros));
        }
        let figures = histogram.percentiles().unwrap();
        assert_eq!(figures.p50_ms, 0.017);
        assert_eq!(figures.max_ms, 0.063);
    }

    #[test]
    fn percentiles_are_within_the_stated_error_of_the_exact_ones() {
        // A skewed, long-tailed spread of times, as real endpoints give.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut values = Vec::new();
        let mut histogram = LatencyHistogram::default();
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let spread = (state % 10_000) as f64 / 10_000.0;
            let micros = (200.0 * (1.0 / (1.0 - spread * 0.999)).powf(2.0)) as u64;
            values.push(micros);
            histogram.record(Duration::from_micros(micros));
        }
        values.sort_unstable();
        let figures = histogram.percentiles().unwrap();
        for (q, got) in [
            (0.5, figures.p50_ms),
            (0.9, figures.p90_ms),
            (0.99, figures.p99_ms),
        ] {
            let want = exact(&values, q) as f64 / 1000.0;
            let error = (got - want).abs() / want;
            assert!(
                error <= RELATIVE_ERROR + 1e-9,
                "q={q}: {got} vs {want} ({error})"
            );
        }
        assert_eq!(figures.max_ms, *values.last().unwrap() as f64 / 1000.0);
        assert_eq!(histogram.len(), 100_000);
    }

    #[test]
    fn nothing_recorded_gives_nothing() {
        assert_eq!(LatencyHistogram::default().percentiles(), None);
    }
}
