//! What a simulated container does, from the `dev.slipway.sandbox/behavior` image label or
//! pod annotation: `ready` (default), `crash`, `never-ready`, `slow-start=<duration>`,
//! `exit=<code>`, `complete-after=<duration>`, `crash-after=<duration>`.

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

impl Behavior {
    /// Parses a behaviour; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<Behavior> {
        let s = s.trim();
        let (name, arg) = match s.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s, None),
        };
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
    }

    #[test]
    fn durations_follow_go_syntax() {
        assert_eq!(parse_duration("10"), Some(10.0));
        assert_eq!(parse_duration("2h1m"), Some(7260.0));
        assert_eq!(parse_duration("1.5s"), Some(1.5));
        assert_eq!(parse_duration("3d"), None);
    }
}
