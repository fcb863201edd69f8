//! Sprig's date functions. Go's reference-time layouts (`2006-01-02T15:04:05Z07:00`)
//! are translated to strftime directives and run through jiff.

use std::rc::Rc;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use super::{Funcs, Ty, reg, to_i64};
use crate::exec::State;
use crate::value::V;
use crate::{Object, Value};

use Ty::{Any, Str};

pub(crate) fn register(m: &mut Funcs) {
    reg(m, "now", &[], None, |_, _| Ok(time(Zoned::now())));
    reg(m, "date", &[Str, Any], None, |_, a| {
        Ok(V::str(format_in(a[0].s(), &a[1], TimeZone::system())))
    });
    reg(m, "dateInZone", &[Str, Any, Str], None, date_in_zone);
    reg(m, "date_in_zone", &[Str, Any, Str], None, date_in_zone);
    reg(m, "htmlDate", &[Any], None, |_, a| {
        Ok(V::str(format_in("2006-01-02", &a[0], TimeZone::system())))
    });
    reg(m, "htmlDateInZone", &[Any, Str], None, |_, a| {
        let tz = TimeZone::get(a[1].s()).unwrap_or(TimeZone::UTC);
        Ok(V::str(format_in("2006-01-02", &a[0], tz)))
    });
    reg(m, "toDate", &[Str, Str], None, |_, a| {
        Ok(parse(a[0].s(), a[1].s())
            .map(time)
            .unwrap_or_else(|_| time(zero_time())))
    });
    reg(m, "mustToDate", &[Str, Str], None, |_, a| {
        parse(a[0].s(), a[1].s()).map(time)
    });
    reg(m, "unixEpoch", &[Any], None, |_, a| {
        Ok(V::str(zoned_of(&a[0]).timestamp().as_second().to_string()))
    });
    reg(m, "dateModify", &[Str, Any], None, |_, a| {
        Ok(date_modify(a[0].s(), &a[1]).unwrap_or_else(|_| a[1].clone()))
    });
    reg(m, "date_modify", &[Str, Any], None, |_, a| {
        Ok(date_modify(a[0].s(), &a[1]).unwrap_or_else(|_| a[1].clone()))
    });
    reg(m, "mustDateModify", &[Str, Any], None, |_, a| {
        date_modify(a[0].s(), &a[1])
    });
    reg(m, "must_date_modify", &[Str, Any], None, |_, a| {
        date_modify(a[0].s(), &a[1])
    });
    reg(m, "ago", &[Any], None, |_, a| {
        let then = zoned_of(&a[0]).timestamp();
        let secs = Timestamp::now().as_second() - then.as_second();
        Ok(V::str(go_duration(secs as f64)))
    });
    reg(m, "duration", &[Any], None, |_, a| {
        Ok(V::str(go_duration(to_i64(&a[0]) as f64)))
    });
    reg(m, "durationRound", &[Any], None, |_, a| {
        let secs = match &a[0] {
            V::Str(s) => parse_go_duration(s).unwrap_or(0.0),
            V::Object(_) => {
                let t = zoned_of(&a[0]).timestamp().as_second();
                (Timestamp::now().as_second() - t) as f64
            }
            other => to_i64(other) as f64 / 1e9,
        };
        Ok(V::str(duration_round(secs)))
    });
}

fn zero_time() -> Zoned {
    Timestamp::from_second(-62_135_596_800)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(TimeZone::UTC)
}

/// A Go `time.Time`.
#[derive(Debug)]
struct Time(Zoned);

fn time(z: Zoned) -> V {
    V::Object(Rc::new(Time(z)))
}

impl Object for Time {
    fn type_name(&self) -> &str {
        "time.Time"
    }
    fn field(&self, _: &str) -> Option<Value> {
        None
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let z = &self.0;
        Some(Ok(match name {
            "String" => Value::String(go_format(z, "2006-01-02 15:04:05.999999999 -0700 MST")),
            "Unix" => Value::Int(z.timestamp().as_second()),
            "UnixNano" => Value::Int(z.timestamp().as_nanosecond() as i64),
            "Year" => Value::Int(i64::from(z.year())),
            "Month" => Value::Int(i64::from(z.month())),
            "Day" => Value::Int(i64::from(z.day())),
            "Hour" => Value::Int(i64::from(z.hour())),
            "Minute" => Value::Int(i64::from(z.minute())),
            "Second" => Value::Int(i64::from(z.second())),
            "Format" => match args {
                [Value::String(layout)] => Value::String(go_format(z, layout)),
                _ => return Some(Err("wrong number of args for Format: want 1".into())),
            },
            "UTC" => {
                return Some(Ok(Value::Object(Rc::new(Time(
                    z.with_time_zone(TimeZone::UTC),
                )))));
            }
            _ => return None,
        }))
    }
}

fn zoned_of(v: &V) -> Zoned {
    match v {
        V::Object(o) if o.type_name() == "time.Time" => {
            let secs = match o.method("UnixNano", &[]) {
                Some(Ok(Value::Int(n))) => n,
                _ => 0,
            };
            Timestamp::from_nanosecond(i128::from(secs))
                .unwrap_or(Timestamp::UNIX_EPOCH)
                .to_zoned(TimeZone::system())
        }
        V::Int(secs) => Timestamp::from_second(*secs)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(TimeZone::system()),
        _ => Zoned::now(),
    }
}

fn format_in(layout: &str, date: &V, tz: TimeZone) -> String {
    go_format(&zoned_of(date).with_time_zone(tz), layout)
}

fn date_in_zone(_: &mut State, a: &[V]) -> Result<V, String> {
    let tz = TimeZone::get(a[2].s()).unwrap_or(TimeZone::UTC);
    Ok(V::str(format_in(a[0].s(), &a[1], tz)))
}

fn date_modify(d: &str, t: &V) -> Result<V, String> {
    let secs = parse_go_duration(d)
        .ok_or_else(|| format!("time: invalid duration {}", crate::fmt::go_quote(d)))?;
    let z = zoned_of(t);
    let nanos = (secs * 1e9) as i64;
    let ts = z.timestamp().as_nanosecond() + i128::from(nanos);
    let ts = Timestamp::from_nanosecond(ts).map_err(|e| e.to_string())?;
    Ok(time(ts.to_zoned(z.time_zone().clone())))
}

/// Go's layout to strftime directives.
fn layout_to_strftime(layout: &str) -> String {
    const TOKENS: &[(&str, &str)] = &[
        ("January", "%B"),
        ("Monday", "%A"),
        ("2006", "%Y"),
        ("Z07:00", "%:z"),
        ("-07:00", "%:z"),
        ("Z0700", "%z"),
        ("-0700", "%z"),
        (".000000000", "%.9f"),
        (".999999999", "%.f"),
        (".000000", "%.6f"),
        (".000", "%.3f"),
        ("Jan", "%b"),
        ("Mon", "%a"),
        ("MST", "%Z"),
        ("002", "%j"),
        ("01", "%m"),
        ("02", "%d"),
        ("_2", "%e"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("06", "%y"),
        ("15", "%H"),
        ("PM", "%p"),
        ("pm", "%P"),
        ("1", "%-m"),
        ("2", "%-d"),
        ("3", "%-I"),
        ("4", "%-M"),
        ("5", "%-S"),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (tok, dir) in TOKENS {
            if let Some(r) = rest.strip_prefix(tok) {
                out.push_str(dir);
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn go_format(z: &Zoned, layout: &str) -> String {
    let f = layout_to_strftime(layout);
    let s = jiff::fmt::strtime::format(f.as_str(), z).unwrap_or_default();
    if layout.contains("Z07:00") && z.offset().seconds() == 0 {
        return s.replace("+00:00", "Z");
    }
    s
}

fn parse(layout: &str, value: &str) -> Result<Zoned, String> {
    let f = layout_to_strftime(layout);
    let value_fixed = if layout.contains("Z07:00") && value.ends_with('Z') {
        format!("{}+00:00", &value[..value.len() - 1])
    } else {
        value.to_string()
    };
    let tm = jiff::fmt::strtime::parse(f.as_str(), &value_fixed).map_err(|_| {
        format!(
            "parsing time {} as {}: cannot parse",
            crate::fmt::go_quote(value),
            crate::fmt::go_quote(layout)
        )
    })?;
    if let Ok(z) = tm.to_zoned() {
        return Ok(z);
    }
    let dt = tm
        .to_datetime()
        .or_else(|_| {
            tm.to_date()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })
        .map_err(|e| e.to_string())?;
    dt.to_zoned(TimeZone::system()).map_err(|e| e.to_string())
}

/// Go's `time.Duration.String` of whole or fractional seconds: `1h2m3s`, `0s`.
fn go_duration(secs: f64) -> String {
    if secs == 0.0 {
        return "0s".into();
    }
    let neg = secs < 0.0;
    let total = secs.abs();
    let h = (total / 3600.0).floor();
    let m = ((total - h * 3600.0) / 60.0).floor();
    let s = total - h * 3600.0 - m * 60.0;
    let s_str = crate::fmt::format_g_shortest((s * 1e9).round() / 1e9);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if h > 0.0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0.0 || m > 0.0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s_str}s"));
    out
}

/// Go's `time.ParseDuration`, in seconds.
fn parse_go_duration(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Some(if neg { -total } else { total })
}

/// Sprig's `durationRound`: the largest whole unit (`2h`, `3mo`, `1y`).
fn duration_round(secs: f64) -> String {
    let u = secs.abs() as u64;
    let (year, month, day, hour, minute) = (31_536_000, 2_592_000, 86_400, 3600, 60);
    let neg = if secs < 0.0 { "-" } else { "" };
    let s = if u > year {
        format!("{}y", u / year)
    } else if u > month {
        format!("{}mo", u / month)
    } else if u > day {
        format!("{}d", u / day)
    } else if u > hour {
        format!("{}h", u / hour)
    } else if u > minute {
        format!("{}m", u / minute)
    } else if u > 0 {
        format!("{u}s")
    } else {
        "0s".to_string()
    };
    format!("{neg}{s}")
}
