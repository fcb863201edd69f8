//! Sprig's math functions: integers through `int64` (`cast.ToInt64`), and the `*f`
//! variants through `float64`.

use rand::RngExt;

use super::{Funcs, Ty, reg, to_f64, to_i64};
use crate::value::V;

use Ty::{Any, Float, Int};

const DIVIDE_BY_ZERO: &str = "runtime error: integer divide by zero";

pub(crate) fn register(m: &mut Funcs) {
    reg(m, "add1", &[Any], None, |_, a| {
        Ok(V::Int(to_i64(&a[0]).wrapping_add(1)))
    });
    reg(m, "add", &[], Some(Any), |_, a| {
        Ok(V::Int(a.iter().map(to_i64).fold(0i64, i64::wrapping_add)))
    });
    reg(m, "sub", &[Any, Any], None, |_, a| {
        Ok(V::Int(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
    });
    reg(m, "mul", &[Any], Some(Any), |_, a| {
        Ok(V::Int(a.iter().map(to_i64).fold(1i64, i64::wrapping_mul)))
    });
    reg(m, "div", &[Any, Any], None, |_, a| {
        let d = to_i64(&a[1]);
        if d == 0 {
            return Err(DIVIDE_BY_ZERO.into());
        }
        Ok(V::Int(to_i64(&a[0]).wrapping_div(d)))
    });
    reg(m, "mod", &[Any, Any], None, |_, a| {
        let d = to_i64(&a[1]);
        if d == 0 {
            return Err(DIVIDE_BY_ZERO.into());
        }
        Ok(V::Int(to_i64(&a[0]).wrapping_rem(d)))
    });
    reg(m, "max", &[Any], Some(Any), |_, a| {
        Ok(V::Int(a.iter().map(to_i64).max().unwrap_or(0)))
    });
    reg(m, "biggest", &[Any], Some(Any), |_, a| {
        Ok(V::Int(a.iter().map(to_i64).max().unwrap_or(0)))
    });
    reg(m, "min", &[Any], Some(Any), |_, a| {
        Ok(V::Int(a.iter().map(to_i64).min().unwrap_or(0)))
    });
    reg(m, "add1f", &[Any], None, |_, a| {
        Ok(V::Float(dec(to_f64(&a[0]) + 1.0)))
    });
    reg(m, "addf", &[], Some(Any), |_, a| {
        Ok(V::Float(dec(a.iter().map(to_f64).sum())))
    });
    reg(m, "subf", &[Any], Some(Any), |_, a| {
        Ok(V::Float(dec(a[1..]
            .iter()
            .map(to_f64)
            .fold(to_f64(&a[0]), |x, y| x - y))))
    });
    reg(m, "mulf", &[Any], Some(Any), |_, a| {
        Ok(V::Float(dec(a[1..]
            .iter()
            .map(to_f64)
            .fold(to_f64(&a[0]), |x, y| x * y))))
    });
    reg(m, "divf", &[Any], Some(Any), |_, a| {
        let mut x = to_f64(&a[0]);
        for y in a[1..].iter().map(to_f64) {
            if y == 0.0 {
                return Err("decimal division by 0".into());
            }
            x /= y;
        }
        Ok(V::Float(dec(x)))
    });
    reg(m, "maxf", &[Any], Some(Any), |_, a| {
        Ok(V::Float(
            a.iter().map(to_f64).fold(f64::NEG_INFINITY, f64::max),
        ))
    });
    reg(m, "minf", &[Any], Some(Any), |_, a| {
        Ok(V::Float(a.iter().map(to_f64).fold(f64::INFINITY, f64::min)))
    });
    reg(m, "ceil", &[Any], None, |_, a| {
        Ok(V::Float(to_f64(&a[0]).ceil()))
    });
    reg(m, "floor", &[Any], None, |_, a| {
        Ok(V::Float(to_f64(&a[0]).floor()))
    });
    reg(m, "round", &[Any, Int], Some(Float), |_, a| {
        let round_on = match a.get(2) {
            Some(V::Float(r)) => *r,
            _ => 0.5,
        };
        let pow = 10f64.powi(a[1].i() as i32);
        let digit = pow * to_f64(&a[0]);
        let r = if digit.fract() >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(V::Float(r / pow))
    });
    reg(m, "randInt", &[Int, Int], None, |_, a| {
        let (lo, hi) = (a[0].i(), a[1].i());
        if hi <= lo {
            return Err("invalid argument to Intn".into());
        }
        Ok(V::Int(rand::rng().random_range(lo..hi)))
    });
    reg(m, "until", &[Int], None, |_, a| {
        let n = a[0].i();
        let step = if n < 0 { -1 } else { 1 };
        Ok(until_step(0, n, step))
    });
    reg(m, "untilStep", &[Int, Int, Int], None, |_, a| {
        Ok(until_step(a[0].i(), a[1].i(), a[2].i()))
    });
}

/// Sprig computes the `*f` functions with a decimal library; rounding the binary
/// result to 15 significant digits gives the same printed values (`0.1 + 0.2` is `0.3`).
fn dec(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{x:.14e}").parse().unwrap_or(x)
}

fn until_step(start: i64, stop: i64, step: i64) -> V {
    let mut v = Vec::new();
    if step == 0 {
        return V::list(v);
    }
    let mut i = start;
    if step > 0 {
        if stop < start {
            return V::list(v);
        }
        while i < stop {
            v.push(V::Int(i));
            i += step;
        }
    } else {
        if stop > start {
            return V::list(v);
        }
        while i > stop {
            v.push(V::Int(i));
            i += step;
        }
    }
    V::list(v)
}
