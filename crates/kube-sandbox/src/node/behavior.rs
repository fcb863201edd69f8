//! What a simulated container does, from the `dev.slipway.sandbox/behavior` image label or
//! pod annotation: a lifecycle — `ready` (default), `crash`, `never-ready`,
//! `slow-start=<duration>`, `exit=<code>`, `complete-after=<duration>`,
//! `crash-after=<duration>` — and how it answers requests (the service proxy and the
//! simulated ingress traffic) — `errors=<fraction>`, `latency=<duration>` — as a
//! comma-separated list with at most one lifecycle item: `slow-start=2s,errors=0.2`.

/// The label (on the image config) and annotation (on the pod) that choose a behaviour.
pub const BEHAVIOR_KEY: &str = "dev.slipway.sandbox/behavior";

/// A simulated container's behaviour. Durations are simulated seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behavior {
    /// Runs and becomes ready (after the readiness probe's initial delay, if any).
    Ready,
    /// Exits with code 1 shortly after starting, every time, without ever passing a
    /// readiness probe.
    Crash,
    /// Runs but never passes its readiness probe.
    NeverReady,
    /// Runs and becomes ready after this many seconds.
    SlowStart(f64),
    /// Exits with this code shortly after starting.
    Exit(i32),
    /// Runs this many seconds, then exits with code 0.
    CompleteAfter(f64),
    /// Becomes ready, then exits with code 1 after this many seconds, every time: a
    /// release that looks healthy for a moment.
    CrashAfter(f64),
}

/// How a simulated app answers HTTP requests.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Traffic {
    /// The share (0 to 1) of requests answered with a 5xx status.
    pub errors: f64,
    /// Simulated seconds before each answer.
    pub latency: f64,
}

/// Parses a whole behaviour string: comma-separated items, at most one lifecycle item
/// (`ready` when none), `errors=<0..1>` and `latency=<duration>` at most once each.
/// `None` for anything unknown or repeated.
pub fn parse_spec(s: &str) -> Option<(Behavior, Traffic)> {
    let mut lifecycle = None;
    let mut traffic = Traffic::default();
    let (mut seen_errors, mut seen_latency) = (false, false);
    let items: Vec<&str> = s.split(',').map(str::trim).collect();
    for item in &items {
        if item.is_empty() && items.len() > 1 {
            return None;
        }
        let (name, arg) = match item.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (*item, None),
        };
        match (name, arg) {
            ("errors", Some(f)) if !seen_errors => {
                let f: f64 = f.parse().ok()?;
                if !(0.0..=1.0).contains(&f) {
                    return None;
                }
                traffic.errors = f;
                seen_errors = true;
            }
            ("latency", Some(d)) if !seen_latency => {
                traffic.latency = parse_duration(d)?;
                seen_latency = true;
            }
            _ if lifecycle.is_none() => lifecycle = Some(Behavior::parse_one(name, arg)?),
            _ => return None,
        }
    }
    Some((lifecycle.unwrap_or(Behavior::Ready), traffic))
}

impl Traffic {
    /// The request behaviour of a behaviour string; `None` when the string is invalid.
    pub fn parse(s: &str) -> Option<Traffic> {
        parse_spec(s).map(|(_, t)| t)
    }
}

impl Behavior {
    /// Parses a behaviour string's lifecycle (see [`parse_spec`]); `None` for anything
    /// unknown.
    pub fn parse(s: &str) -> Option<Behavior> {
        parse_spec(s).map(|(b, _)| b)
    }

    fn parse_one(name: &str, arg: Option<&str>) -> Option<Behavior> {
        match (name, arg) {
            ("ready", None) | ("", None) => Some(Behavior::Ready),
            ("crash", None) => Some(Behavior::Crash),
            ("never-ready", None) => Some(Behavior::NeverReady),
            ("slow-start", Some(d)) => parse_duration(d).map(Behavior::SlowStart),
            ("exit", Some(c)) => c.parse().ok().map(Behavior::Exit),
            ("complete-after", Some(d)) => parse_duration(d).map(Behavior::CompleteAfter),
            ("crash-after", Some(d)) => parse_duration(d).map(Behavior::CrashAfter),
            _ => None,
        }
    }

    /// The label value, as written.
    pub fn describe(&self) -> String {
        match self {
            Behavior::Ready => "ready".into(),
            Behavior::Crash => "crash".into(),
            Behavior::NeverReady => "never-ready".into(),
            Behavior::SlowStart(d) => format!("slow-start={d}s"),
            Behavior::Exit(c) => format!("exit={c}"),
            Behavior::CompleteAfter(d) => format!("complete-after={d}s"),
            Behavior::CrashAfter(d) => format!("crash-after={d}s"),
        }
    }
}

/// Parses a Go-style duration (`1m30s`, `500ms`, `2h`, or plain seconds) into seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviours_parse_with_and_without_arguments() {
        assert_eq!(Behavior::parse("ready"), Some(Behavior::Ready));
        assert_eq!(Behavior::parse("crash"), Some(Behavior::Crash));
        assert_eq!(Behavior::parse("never-ready"), Some(Behavior::NeverReady));
        assert_eq!(
            Behavior::parse("crash-after=5s"),
            Some(Behavior::CrashAfter(5.0))
        );
        assert_eq!(
            Behavior::parse("slow-start=1m30s"),
            Some(Behavior::SlowStart(90.0))
        );
        assert_eq!(Behavior::parse("exit=3"), Some(Behavior::Exit(3)));
        assert_eq!(
            Behavior::parse("complete-after=500ms"),
            Some(Behavior::CompleteAfter(0.5))
        );
        assert_eq!(Behavior::parse("explode"), None);
        assert_eq!(Behavior::parse("exit=x"), None);
        assert_eq!(Behavior::parse(""), Some(Behavior::Ready));
    }

    #[test]
    fn request_behaviours_combine_with_a_lifecycle() {
        let t = |errors, latency| Traffic { errors, latency };
        assert_eq!(
            parse_spec("errors=0.2"),
            Some((Behavior::Ready, t(0.2, 0.0)))
        );
        assert_eq!(
            parse_spec("latency=300ms"),
            Some((Behavior::Ready, t(0.0, 0.3)))
        );
        assert_eq!(
            parse_spec("slow-start=2s, errors=0.2,latency=1s"),
            Some((Behavior::SlowStart(2.0), t(0.2, 1.0)))
        );
        assert_eq!(
            parse_spec("errors=1,crash-after=5s"),
            Some((Behavior::CrashAfter(5.0), t(1.0, 0.0)))
        );
        assert_eq!(Behavior::parse("ready,errors=0.5"), Some(Behavior::Ready));
        assert_eq!(parse_spec("ready"), Some((Behavior::Ready, t(0.0, 0.0))));
        // Out of range, repeated, two lifecycles, unknown, empty items.
        assert_eq!(parse_spec("errors=1.5"), None);
        assert_eq!(parse_spec("errors=-0.1"), None);
        assert_eq!(parse_spec("errors=0.1,errors=0.2"), None);
        assert_eq!(parse_spec("ready,crash"), None);
        assert_eq!(parse_spec("latency=fast"), None);
        assert_eq!(parse_spec("ready,"), None);
        assert_eq!(Traffic::parse("crash,latency=2s"), Some(t(0.0, 2.0)));
    }

    #[test]
    fn durations_follow_go_syntax() {
        assert_eq!(parse_duration("10"), Some(10.0));
        assert_eq!(parse_duration("2h1m"), Some(7260.0));
        assert_eq!(parse_duration("1.5s"), Some(1.5));
        assert_eq!(parse_duration("3d"), None);
    }
}
