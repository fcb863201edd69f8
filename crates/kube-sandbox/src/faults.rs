//! Fault injection for reliability tests: a share of API requests answered with a real
//! `Status` 500, 503 or 429 (with `Retry-After`), chosen by a seeded generator so that a
//! run is repeatable, and a delay added to every request.

use crate::errors::ApiError;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::json;
use std::sync::Mutex;
use std::time::Duration;

/// The fault injector of a server.
#[derive(Debug)]
pub struct Faults {
    rate: f64,
    latency: Option<Duration>,
    rng: Mutex<u64>,
}

/// Whether a path is never faulted: version, health, OpenAPI and discovery documents.
pub fn exempt(path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    matches!(
        segs.as_slice(),
        [] | ["version" | "healthz" | "readyz" | "livez" | "openapi", ..]
            | ["api"]
            | ["api", _]
            | ["apis"]
            | ["apis", _]
            | ["apis", _, _]
    )
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Faults {
    /// `rate` is clamped to `0..=1`.
    pub fn new(rate: f64, latency: Option<Duration>, seed: u64) -> Faults {
        Faults {
            rate: if rate.is_finite() {
                rate.clamp(0.0, 1.0)
            } else {
                0.0
            },
            latency: latency.filter(|d| !d.is_zero()),
            rng: Mutex::new(seed),
        }
    }

    /// Whether anything is injected at all.
    pub fn active(&self) -> bool {
        self.rate > 0.0 || self.latency.is_some()
    }

    /// The HTTP code of the fault for the next request, if it gets one.
    pub fn roll(&self, path: &str) -> Option<u16> {
        if self.rate <= 0.0 || exempt(path) {
            return None;
        }
        let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let x = splitmix(&mut s);
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        if u >= self.rate {
            return None;
        }
        Some(match splitmix(&mut s) % 3 {
            0 => 500,
            1 => 503,
            _ => 429,
        })
    }

    /// Delays the request, then answers it with a fault when the dice say so.
    pub async fn apply(&self, path: &str) -> Option<Response> {
        if let Some(d) = self.latency {
            tokio::time::sleep(d).await;
        }
        self.roll(path).map(fault_response)
    }
}

/// The `Status` response of an injected fault.
pub fn fault_response(code: u16) -> Response {
    let (err, retry) = match code {
        429 => (
            ApiError::new(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later (injected fault)",
            )
            .with_details(json!({"causes": [{"reason": "InjectedFault", "message": "kube-sandbox fault injection"}], "retryAfterSeconds": 1})),
            true,
        ),
        503 => (
            ApiError::new(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request (injected fault)",
            ),
            false,
        ),
        _ => (
            ApiError::new(
                500,
                "InternalError",
                "Internal error occurred: injected fault",
            )
            .with_details(json!({"causes": [{"message": "injected fault"}]})),
            false,
        ),
    };
    let mut b = Response::builder()
        .status(StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json");
    if retry {
        b = b.header(header::RETRY_AFTER, "1");
    }
    b.body(Body::from(
        serde_json::to_vec(&err.to_status()).unwrap_or_default(),
    ))
    .expect("response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exempt_paths() {
        for p in [
            "/version",
            "/healthz",
            "/readyz/ping",
            "/livez",
            "/openapi/v3/apis/apps/v1",
            "/openapi/v2",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/",
        ] {
            assert!(exempt(p), "{p}");
        }
        for p in [
            "/api/v1/namespaces",
            "/api/v1/namespaces/default/configmaps",
            "/apis/apps/v1/deployments",
        ] {
            assert!(!exempt(p), "{p}");
        }
    }

    #[test]
    fn rate_and_repeatability() {
        let a = Faults::new(0.3, None, 42);
        let b = Faults::new(0.3, None, 42);
        let path = "/api/v1/namespaces/default/configmaps";
        let ra: Vec<_> = (0..10_000).map(|_| a.roll(path)).collect();
        let rb: Vec<_> = (0..10_000).map(|_| b.roll(path)).collect();
        assert_eq!(ra, rb);
        let n = ra.iter().filter(|r| r.is_some()).count();
        assert!((2700..3300).contains(&n), "{n}");
        for code in [500, 503, 429] {
            assert!(ra.contains(&Some(code)));
        }
        assert!(Faults::new(0.0, None, 1).roll(path).is_none());
        assert!(Faults::new(1.0, None, 1).roll("/version").is_none());
    }
}
