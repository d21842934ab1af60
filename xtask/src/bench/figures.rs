//! What a scenario measured: samples per metric (Natter's, and the `webrtc` crate's defaults'
//! where the scenario runs them), their summary (median, p95, max), the goal and the ratio.

use serde_json::{Value, json};

/// How a figure compares with its goal.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// The p95 of Natter's samples stays below this.
    P95Below(f64),
    /// The median stays below this.
    MedianBelow(f64),
    /// The median stays at or above this.
    MedianAtLeast(f64),
    /// The median stays at or below this (a ratio ≤ 1: "no slower than").
    MedianAtMost(f64),
    /// The worst run stays below this.
    MaxBelow(f64),
    /// Natter's median is at most this fraction of the defaults' median (0.25 = 4× faster).
    RatioAtMost(f64),
}

impl Goal {
    fn describe(&self, unit: &str) -> String {
        match self {
            Goal::P95Below(v) => format!("p95 < {v} {unit}"),
            Goal::MedianBelow(v) => format!("median < {v} {unit}"),
            Goal::MedianAtLeast(v) => format!("median ≥ {v} {unit}"),
            Goal::MedianAtMost(v) => format!("median ≤ {v} {unit}"),
            Goal::MaxBelow(v) => format!("max < {v} {unit}"),
            Goal::RatioAtMost(r) => format!("≥ {:.0}× faster than defaults", 1.0 / r),
        }
    }
}

/// Median, p95 (nearest rank) and max of some samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub runs: usize,
    pub median: f64,
    pub p95: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
        Some(Summary {
            runs: n,
            median,
            p95: sorted[rank - 1],
            max: sorted[n - 1],
        })
    }

    fn to_json(self) -> Value {
        json!({ "runs": self.runs, "median": round(self.median), "p95": round(self.p95), "max": round(self.max) })
    }
}

/// One measured quantity of a scenario.
#[derive(Debug, Clone)]
pub struct Metric {
    pub name: String,
    pub unit: &'static str,
    pub samples: Vec<f64>,
    /// The same measurement with the `webrtc` crate's default settings, when it makes sense.
    pub default_samples: Option<Vec<f64>>,
    pub goals: Vec<Goal>,
}

impl Metric {
    pub fn new(name: &str, unit: &'static str) -> Metric {
        Metric {
            name: name.to_string(),
            unit,
            samples: Vec::new(),
            default_samples: None,
            goals: Vec::new(),
        }
    }

    pub fn with_defaults(mut self) -> Metric {
        self.default_samples = Some(Vec::new());
        self
    }

    pub fn goal(mut self, goal: Goal) -> Metric {
        self.goals.push(goal);
        self
    }

    /// Natter's median over the defaults' median.
    pub fn ratio(&self) -> Option<f64> {
        let ours = Summary::of(&self.samples)?;
        let theirs = Summary::of(self.default_samples.as_ref()?)?;
        (theirs.median > 0.0).then(|| ours.median / theirs.median)
    }

    /// Whether every goal is met (`None`: nothing to judge, or no goal).
    pub fn goals_met(&self) -> Option<bool> {
        if self.goals.is_empty() {
            return None;
        }
        let s = Summary::of(&self.samples)?;
        let mut met = true;
        for goal in &self.goals {
            met &= match *goal {
                Goal::P95Below(v) => s.p95 < v,
                Goal::MedianBelow(v) => s.median < v,
                Goal::MedianAtLeast(v) => s.median >= v,
                Goal::MedianAtMost(v) => s.median <= v,
                Goal::MaxBelow(v) => s.max < v,
                Goal::RatioAtMost(r) => self.ratio().is_some_and(|x| x <= r),
            };
        }
        Some(met)
    }

    pub fn goal_text(&self) -> String {
        self.goals
            .iter()
            .map(|g| g.describe(self.unit))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn to_json(&self) -> Value {
        let mut out =
            json!({ "unit": self.unit, "samples": self.samples.iter().map(|v| round(*v)).collect::<Vec<_>>() });
        match Summary::of(&self.samples) {
            Some(s) => merge(&mut out, s.to_json()),
            None => merge(&mut out, json!({ "runs": 0, "median": null, "p95": null, "max": null })),
        }
        if let Some(defaults) = &self.default_samples {
            let mut d = json!({ "samples": defaults.iter().map(|v| round(*v)).collect::<Vec<_>>() });
            if let Some(s) = Summary::of(defaults) {
                merge(&mut d, s.to_json());
            }
            out["default"] = d;
            out["ratio"] = json!(self.ratio().map(round));
        }
        if !self.goals.is_empty() {
            out["goal"] = json!(self.goal_text());
            out["goal_met"] = json!(self.goals_met());
        }
        out
    }
}

/// A scenario's outcome: its metrics, failed runs (with why) and notes for the reader.
#[derive(Debug, Clone, Default)]
pub struct ScenarioResult {
    pub metrics: Vec<Metric>,
    pub failures: Vec<String>,
    pub notes: Vec<String>,
    /// Why the scenario could not run here at all.
    pub skipped: Option<String>,
    pub seconds: f64,
}

impl ScenarioResult {
    pub fn metric(&mut self, name: &str) -> &mut Metric {
        self.metrics
            .iter_mut()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no metric {name}"))
    }

    /// The scenario's JSON: the first metric's figures at the top level (the headline), every
    /// metric under `metrics`.
    pub fn to_json(&self) -> Value {
        let mut out = match self.metrics.first() {
            Some(headline) => {
                let mut v = headline.to_json();
                v["metric"] = json!(headline.name);
                v
            }
            None => json!({}),
        };
        out["metrics"] = Value::Object(self.metrics.iter().map(|m| (m.name.clone(), m.to_json())).collect());
        out["failures"] = json!(self.failures);
        out["notes"] = json!(self.notes);
        out["skipped"] = json!(self.skipped);
        out["seconds"] = json!(round(self.seconds));
        out
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

/// Three significant decimals are plenty for figures from a noisy machine.
pub fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_an_odd_and_an_even_count() {
        let s = Summary::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.runs, s.median, s.p95, s.max), (3, 3.0, 5.0, 5.0));
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.max), (2.5, 4.0));
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let samples: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(Summary::of(&samples).unwrap().p95, 19.0);
        let samples: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(Summary::of(&samples).unwrap().p95, 10.0);
    }

    #[test]
    fn goals_and_ratio() {
        let mut m = Metric::new("first_frame_ms", "ms")
            .with_defaults()
            .goal(Goal::P95Below(300.0))
            .goal(Goal::RatioAtMost(0.25));
        m.samples = vec![100.0, 120.0];
        m.default_samples = Some(vec![800.0, 900.0]);
        assert_eq!(m.ratio(), Some(110.0 / 850.0));
        assert_eq!(m.goals_met(), Some(true));
        m.samples.push(400.0);
        assert_eq!(m.goals_met(), Some(false), "p95 400 ms breaks the first goal");
        let json = m.to_json();
        assert_eq!(json["runs"], 3);
        assert_eq!(json["default"]["median"], 850.0);
        assert_eq!(json["goal_met"], false);
    }

    #[test]
    fn median_at_most_includes_equality() {
        let mut m = Metric::new("vs", "×").goal(Goal::MedianAtMost(1.0));
        m.samples = vec![0.9, 1.0, 1.4];
        assert_eq!(m.goals_met(), Some(true));
        m.samples.push(1.2);
        assert_eq!(m.goals_met(), Some(false), "median 1.1");
        assert_eq!(m.goal_text(), "median ≤ 1 ×");
    }

    #[test]
    fn a_metric_without_samples_has_no_verdict() {
        let m = Metric::new("x", "ms").goal(Goal::MedianBelow(1.0));
        assert_eq!(m.goals_met(), None);
        assert_eq!(m.to_json()["median"], Value::Null);
    }
}
