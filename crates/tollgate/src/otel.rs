//! OpenTelemetry traces over OTLP/HTTP (protobuf), in builds with the cargo feature
//! `otel`.
//!
//! The gateway's tracing spans (`request`, and under it `auth`, `admission`, `cache`,
//! `upstream`, `relay`, `settle`) become OpenTelemetry spans with the GenAI
//! semantic-convention attributes the lifecycle records on them. Where they go:
//! `telemetry.otlp_endpoint` (the collector's base URL), else the standard
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`; with neither,
//! nothing is exported. Batching follows the standard `OTEL_BSP_*` variables.
//!
//! The exporter's HTTP requests run on the gateway's Tokio runtime through the
//! workspace's own reqwest client (no second HTTP stack): the SDK's batch thread
//! waits on a task spawned there.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tollgate_config::TelemetryConfig;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Flushes and stops the exporter when dropped (at the end of `serve`).
pub struct Guard(SdkTracerProvider);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = self.0.shutdown() {
            eprintln!("tollgate: OpenTelemetry shutdown: {e}");
        }
    }
}

/// The OTLP traces URL for a collector's base URL (`…/v1/traces` appended unless the
/// URL already ends with it).
fn traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    }
}

fn env_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

/// The tracing layer that exports spans, or `None` when no endpoint is configured.
pub fn layer(
    cfg: &TelemetryConfig,
    runtime: &tokio::runtime::Handle,
) -> Result<Option<(tollgate_telemetry::ExtraLayer, Guard)>, String> {
    let from_env =
        env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || env_set("OTEL_EXPORTER_OTLP_ENDPOINT");
    if cfg.otlp_endpoint.is_none() && !from_env {
        return Ok(None);
    }
    let client = reqwest::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(EXPORT_TIMEOUT)
        .with_http_client(OnRuntime {
            client,
            runtime: runtime.clone(),
        });
    if let Some(url) = &cfg.otlp_endpoint {
        builder = builder.with_endpoint(traces_url(url));
    }
    let exporter = builder.build().map_err(|e| e.to_string())?;
    let mut resource = Resource::builder();
    if !env_set("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name(cfg.service_name.clone());
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("tollgate");
    // The gateway's own spans, whatever the log filter says.
    let targets = Targets::new()
        .with_target("tollgate_gateway", tracing::Level::INFO)
        .with_target("tollgate", tracing::Level::INFO);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(targets);
    Ok(Some((Box::new(layer), Guard(provider))))
}

/// The exporter's HTTP client: requests run on the gateway's runtime.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OnRuntime {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let task = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let resp = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            let mut out = http::Response::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            Ok::<_, reqwest::Error>(out)
        });
        Ok(task.await??)
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn traces_path_is_appended_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
