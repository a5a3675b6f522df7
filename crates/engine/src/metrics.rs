//! The studio's metrics in Prometheus' text format (issue 31), with the `prometheus` crate:
//! `GET /metrics` on every API server (for a valid key, like the other routes) and `figur
//! worker --metrics-listen ADDR`. Counters and histograms are this process's, since it started;
//! the gauges (queue depth, jobs running, workers) are read from the ledger when scraped, so
//! every server of a farm reports the same queue.
//!
//! One registry per process ([`METRICS`]): the code that observes (dispatch, the scheduler,
//! leases, webhooks, model opening) reaches it without threading a handle through.

use std::sync::LazyLock;

use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Dispatches answered, by workflow and outcome (`accepted`, or the refusal's code).
    pub dispatches: IntCounterVec,
    /// From a dispatch's arrival at the engine to its durable answer, by workflow.
    pub dispatch_seconds: HistogramVec,
    /// From a job's dispatch to its claim by a worker, by workflow.
    pub claim_seconds: HistogramVec,
    /// A job's run, from its claim to its end, by workflow and outcome.
    pub job_seconds: HistogramVec,
    /// Each stage of a successful job, by workflow and stage.
    pub stage_seconds: HistogramVec,
    /// Lease renewals made by this process, and jobs requeued (by why).
    pub lease_renewals: IntCounterVec,
    pub requeues: IntCounterVec,
    /// Webhook delivery attempts, by outcome (`delivered`, `retry`, `gave_up`).
    pub webhook_attempts: IntCounterVec,
    /// Opening a model for a job (its first open loads it; later ones find it loaded), by model.
    pub model_open_seconds: HistogramVec,
    /// Read from the ledger when scraped.
    pub queue_depth: IntGaugeVec,
    pub jobs_running: IntGaugeVec,
    pub workers: IntGaugeVec,
    /// Each NVIDIA GPU's memory, read through NVML when scraped (absent where no driver runs):
    /// `used` and `total` on the device, `process` for this process's share.
    pub gpu_memory: IntGaugeVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter");
    registry.register(Box::new(c.clone())).expect("registered once");
    c
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels).expect("a valid histogram");
    registry.register(Box::new(h.clone())).expect("registered once");
    h
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge");
    registry.register(Box::new(g.clone())).expect("registered once");
    g
}

/// 0.5 ms to about 30 s: dispatches, claims, model opens.
fn fast() -> Vec<f64> {
    exponential_buckets(0.0005, 2.0, 17).expect("valid buckets")
}

/// 10 ms to about 1.5 h: jobs and their stages.
fn slow() -> Vec<f64> {
    exponential_buckets(0.01, 2.0, 20).expect("valid buckets")
}

/// This process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let r = Registry::new_custom(Some("figur".into()), None).expect("a valid prefix");
    Metrics {
        dispatches: counter(
            &r,
            "dispatches_total",
            "Dispatches answered, by workflow and outcome",
            &["workflow", "outcome"],
        ),
        dispatch_seconds: histogram(&r, "dispatch_seconds", "Dispatch to its durable answer", &["workflow"], fast()),
        claim_seconds: histogram(&r, "claim_seconds", "A job's dispatch to its claim", &["workflow"], fast()),
        job_seconds: histogram(&r, "job_seconds", "A job's run, claim to end", &["workflow", "outcome"], slow()),
        stage_seconds: histogram(&r, "stage_seconds", "A successful job's stages", &["workflow", "stage"], slow()),
        lease_renewals: counter(&r, "lease_renewals_total", "Lease renewals by this process", &["realm"]),
        requeues: counter(&r, "requeues_total", "Jobs requeued by this process, by why", &["reason"]),
        webhook_attempts: counter(&r, "webhook_attempts_total", "Webhook delivery attempts", &["outcome"]),
        model_open_seconds: histogram(&r, "model_open_seconds", "Opening a model for a job", &["model"], fast()),
        queue_depth: gauge(
            &r,
            "queue_depth",
            "Jobs waiting, by realm, workflow and priority",
            &["realm", "workflow", "priority"],
        ),
        jobs_running: gauge(
            &r,
            "jobs_running",
            "Jobs running anywhere on the ledger, by realm and workflow",
            &["realm", "workflow"],
        ),
        workers: gauge(&r, "workers", "Workers of a shared ledger, by state", &["state"]),
        gpu_memory: gauge(
            &r,
            "gpu_memory_bytes",
            "NVIDIA GPU memory: used and total on the device, and this process's",
            &["gpu", "name", "kind"],
        ),
        registry: r,
    }
});

/// NVML, loaded once (the driver's `libnvidia-ml.so.1`); `None` on a machine without one.
fn nvml() -> Option<&'static nvml_wrapper::Nvml> {
    static NVML: std::sync::OnceLock<Option<nvml_wrapper::Nvml>> = std::sync::OnceLock::new();
    NVML.get_or_init(|| nvml_wrapper::Nvml::init().ok()).as_ref()
}

impl Metrics {
    /// Reads every GPU's memory into [`Metrics::gpu_memory`] (nothing where NVML does not load).
    pub fn read_gpus(&self) {
        self.gpu_memory.reset();
        let Some(nvml) = nvml() else { return };
        let me = std::process::id();
        for index in 0..nvml.device_count().unwrap_or(0) {
            let Ok(device) = nvml.device_by_index(index) else { continue };
            let (gpu, name) = (index.to_string(), device.name().unwrap_or_default());
            let set = |kind: &str, bytes: u64| {
                self.gpu_memory.with_label_values(&[&gpu, &name, kind]).set(i64::try_from(bytes).unwrap_or(i64::MAX))
            };
            if let Ok(memory) = device.memory_info() {
                set("used", memory.used);
                set("total", memory.total);
            }
            if let Ok(processes) = device.running_compute_processes() {
                let mine = processes
                    .iter()
                    .filter(|p| p.pid == me)
                    .map(|p| match p.used_gpu_memory {
                        nvml_wrapper::enums::device::UsedGpuMemory::Used(bytes) => bytes,
                        nvml_wrapper::enums::device::UsedGpuMemory::Unavailable => 0,
                    })
                    .sum();
                set("process", mine);
            }
        }
    }

    /// Everything in Prometheus' text exposition format.
    pub fn text(&self) -> String {
        let mut out = Vec::new();
        // Encoding well-formed families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Seconds since an RFC 3339 time the ledger wrote, if it parses.
pub fn since_rfc3339(at: &str) -> Option<f64> {
    let then = humantime::parse_rfc3339_weak(at.trim_end_matches('Z')).ok()?;
    std::time::SystemTime::now().duration_since(then).ok().map(|d| d.as_secs_f64())
}

/// The content type of [`Metrics::text`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_every_family_with_the_prefix() {
        METRICS.dispatches.with_label_values(&["extract", "accepted"]).inc();
        METRICS.job_seconds.with_label_values(&["extract", "succeeded"]).observe(1.5);
        let text = METRICS.text();
        assert!(text.contains("# TYPE figur_dispatches_total counter"), "{text}");
        assert!(text.contains("figur_dispatches_total{outcome=\"accepted\",workflow=\"extract\"}"), "{text}");
        assert!(
            text.contains("figur_job_seconds_bucket{outcome=\"succeeded\",workflow=\"extract\",le=\"2.56\"}"),
            "{text}"
        );
        assert!(since_rfc3339("2026-01-01T00:00:00.000Z").is_some_and(|s| s > 0.0));
    }
}
