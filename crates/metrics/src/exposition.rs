//! One scrape's worth of samples and their encoding with `prometheus-client`.

use std::collections::HashMap;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::registry::Registry;

use crate::catalog::{desc, MetricKind, METRICS};

/// Text format of an exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
    /// Prometheus text 0.0.4 (`text/plain; version=0.0.4`).
    Prometheus,
}

impl Format {
    /// HTTP `Content-Type` of the format.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Value of one sample.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Counter(u64),
    CounterF(f64),
    Gauge(f64),
    GaugeInt(i64),
    /// Buckets are `(upper bound, count)`, not cumulative, ending with `+Inf`.
    Histogram {
        sum: f64,
        count: u64,
        buckets: Vec<(f64, u64)>,
    },
    Info,
}

/// Labels of a sample, in the family's label order.
pub(crate) type Labels = Vec<(&'static str, String)>;

/// Samples grouped by family base name.
#[derive(Debug)]
pub(crate) struct Exposition {
    samples: HashMap<&'static str, Vec<(Labels, Value)>>,
    /// The `host` label every sample carries right after `lab`.
    host: String,
}

impl Exposition {
    /// An empty exposition whose samples all carry label `host` (empty for a lab on one
    /// machine, which Prometheus stores as no label).
    pub(crate) fn for_host(host: String) -> Exposition {
        Exposition {
            samples: HashMap::new(),
            host,
        }
    }

    /// Adds a sample to family `base` (a name from [`METRICS`]); `labels` start with `lab`,
    /// and `host` is put after it.
    pub(crate) fn push(&mut self, base: &'static str, mut labels: Labels, value: Value) {
        debug_assert!(desc(base).is_some(), "unknown family {base}");
        debug_assert_eq!(labels.first().map(|l| l.0), Some("lab"), "{base}");
        labels.insert(1.min(labels.len()), ("host", self.host.clone()));
        self.samples.entry(base).or_default().push((labels, value));
    }

    /// Encodes every family in catalogue order (families without samples are left out).
    pub(crate) fn encode(self, format: Format) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        let mut out = String::new();
        // Writing into a String cannot fail; encoding errors only come from the writer.
        let _ = match format {
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
            }
        };
        out
    }
}

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for desc in METRICS {
            let Some(samples) = self.samples.get(desc.base) else {
                continue;
            };
            let unit = desc.unit();
            let mut metric = encoder.encode_descriptor(
                desc.base,
                desc.help,
                unit.as_ref(),
                desc.kind.metric_type(),
            )?;
            for (labels, value) in samples {
                if desc.kind == MetricKind::Info {
                    metric.encode_info(labels)?;
                    continue;
                }
                let mut m = metric.encode_family(labels)?;
                match value {
                    Value::Counter(v) => m.encode_counter::<NoLabelSet, _, f64>(v, None)?,
                    Value::CounterF(v) => m.encode_counter::<NoLabelSet, _, f64>(v, None)?,
                    Value::Gauge(v) => m.encode_gauge(v)?,
                    Value::GaugeInt(v) => m.encode_gauge(v)?,
                    Value::Histogram {
                        sum,
                        count,
                        buckets,
                    } => m.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?,
                    Value::Info => {}
                }
            }
        }
        Ok(())
    }
}

/// Turns a datapath batch histogram (`(upper bound, count)`, counts not cumulative, any
/// order, `u64::MAX` meaning `+Inf`) into sorted buckets ending with `+Inf`, merging
/// duplicate bounds.
pub(crate) fn histogram_buckets(raw: &[(u64, u64)]) -> (u64, Vec<(f64, u64)>) {
    let mut sorted: Vec<(u64, u64)> = raw.to_vec();
    sorted.sort_by_key(|&(le, _)| le);
    let mut buckets: Vec<(f64, u64)> = Vec::with_capacity(sorted.len() + 1);
    let mut count = 0u64;
    for (le, n) in sorted {
        count = count.saturating_add(n);
        let bound = if le == u64::MAX {
            f64::INFINITY
        } else {
            le as f64
        };
        match buckets.last_mut() {
            Some(last) if last.0 == bound => last.1 = last.1.saturating_add(n),
            _ => buckets.push((bound, n)),
        }
    }
    if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
        buckets.push((f64::INFINITY, 0));
    }
    (count, buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_sorted_merged_and_closed() {
        let (count, b) = histogram_buckets(&[(8, 2), (1, 5), (8, 1), (64, 0)]);
        assert_eq!(count, 8);
        assert_eq!(b, vec![(1.0, 5), (8.0, 3), (64.0, 0), (f64::INFINITY, 0)]);
        let (count, b) = histogram_buckets(&[(u64::MAX, 4), (2, 1)]);
        assert_eq!(count, 5);
        assert_eq!(b, vec![(2.0, 1), (f64::INFINITY, 4)]);
        assert_eq!(histogram_buckets(&[]), (0, vec![(f64::INFINITY, 0)]));
    }

    #[test]
    fn encodes_both_formats() {
        let mut e = Exposition::for_host("a".into());
        e.push(
            "umlvnf_datapath",
            vec![("lab", "l".into())],
            Value::Counter(5),
        );
        e.push(
            "umlvnf_build",
            vec![("lab", "l".into()), ("version", "1".into())],
            Value::Info,
        );
        let om = e.encode(Format::OpenMetrics);
        assert!(
            om.contains("# TYPE umlvnf_datapath_bytes counter\n"),
            "{om}"
        );
        assert!(om.contains("# UNIT umlvnf_datapath_bytes bytes\n"), "{om}");
        assert!(
            om.contains("umlvnf_datapath_bytes_total{lab=\"l\",host=\"a\"} 5\n"),
            "{om}"
        );
        assert!(
            om.contains("umlvnf_build_info{lab=\"l\",host=\"a\",version=\"1\"} 1\n"),
            "{om}"
        );
        assert!(om.ends_with("# EOF\n"));
        let mut e = Exposition::for_host("a".into());
        e.push(
            "umlvnf_datapath",
            vec![("lab", "l".into())],
            Value::Counter(5),
        );
        let prom = e.encode(Format::Prometheus);
        assert!(
            prom.contains("# TYPE umlvnf_datapath_bytes_total counter\n"),
            "{prom}"
        );
        assert!(!prom.contains("# EOF"));
    }
}
