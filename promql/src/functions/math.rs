//! Element-wise math functions on float samples.

/// Go's `math.Max`: NaN if either is NaN, and +0 above −0.
pub fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: NaN if either is NaN, and −0 below +0.
pub fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        // ±0 and NaN are returned unchanged.
        v
    }
}

fn deg(v: f64) -> f64 {
    v * 180.0 / std::f64::consts::PI
}

fn rad(v: f64) -> f64 {
    v * std::f64::consts::PI / 180.0
}

/// The one-argument float functions by PromQL name; `None` for any other
/// name.
pub fn simple_math(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => sgn,
        "deg" => deg,
        "rad" => rad,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        _ => return None,
    })
}

/// `round(v, to_nearest)`: the nearest multiple of `to_nearest`, ties
/// rounding up (towards +Inf). Uses the inverse of `to_nearest`, as
/// Prometheus does.
pub fn round(v: f64, to_nearest: f64) -> f64 {
    let inv = 1.0 / to_nearest;
    (v * inv + 0.5).floor() / inv
}

/// `clamp(v, min, max)`; `None` when `max < min` (Prometheus then returns an
/// empty vector). A NaN sample or bound gives NaN.
pub fn clamp(v: f64, min: f64, max: f64) -> Option<f64> {
    if max < min {
        return None;
    }
    Some(go_max(min, go_min(max, v)))
}

/// `clamp_max(v, max)`, computed as Prometheus does: `clamp(v, -Inf, max)`
/// (which never drops the sample).
pub fn clamp_max(v: f64, max: f64) -> f64 {
    go_max(f64::NEG_INFINITY, go_min(max, v))
}

/// `clamp_min(v, min)`, computed as Prometheus does: `clamp(v, min, +Inf)`
/// (which never drops the sample).
pub fn clamp_min(v: f64, min: f64) -> f64 {
    go_max(min, go_min(f64::INFINITY, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for n in [
            "abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "sgn", "deg", "rad",
            "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
            "atanh",
        ] {
            assert!(simple_math(n).is_some(), "{n}");
        }
        assert!(simple_math("round").is_none());
        assert!(simple_math("pi").is_none());
    }

    #[test]
    fn values() {
        let f = |n: &str, v: f64| simple_math(n).unwrap()(v);
        assert_eq!(f("sgn", -3.0), -1.0);
        assert_eq!(f("sgn", 2.0), 1.0);
        assert!(f("sgn", 0.0) == 0.0 && f("sgn", -0.0).is_sign_negative());
        assert!(f("sgn", f64::NAN).is_nan());
        assert_eq!(f("deg", std::f64::consts::PI), 180.0);
        assert_eq!(f("rad", 180.0), std::f64::consts::PI);
        assert_eq!(f("log2", 8.0), 3.0);
        assert_eq!(f("ln", 1.0), 0.0);
        assert!(f("ln", -1.0).is_nan());
        assert_eq!(f("ln", 0.0), f64::NEG_INFINITY);
        assert_eq!(f("log10", 1000.0), 3.0);
        assert_eq!(f("exp", 0.0), 1.0);
        assert!(f("sqrt", -1.0).is_nan());
        assert_eq!(f("ceil", -0.5), -0.0);
        assert_eq!(f("atanh", 1.0), f64::INFINITY);
        assert!(f("acosh", 0.5).is_nan());
    }

    #[test]
    fn rounding() {
        assert_eq!(round(0.5, 1.0), 1.0);
        assert_eq!(round(-0.5, 1.0), 0.0);
        assert_eq!(round(1.5, 1.0), 2.0);
        assert_eq!(round(2.5, 1.0), 3.0);
        assert_eq!(round(-2.5, 1.0), -2.0);
        assert_eq!(round(-2.6, 1.0), -3.0);
        assert_eq!(round(5.0, 10.0), 10.0);
        assert_eq!(round(4.9, 10.0), 0.0);
        assert_eq!(round(1.234, 0.01), 1.23);
        assert_eq!(round(1.235, 0.1), 1.2);
        assert!(round(f64::NAN, 1.0).is_nan());
        assert_eq!(round(f64::INFINITY, 1.0), f64::INFINITY);
    }

    #[test]
    fn clamping() {
        assert_eq!(clamp(5.0, 0.0, 3.0), Some(3.0));
        assert_eq!(clamp(-5.0, 0.0, 3.0), Some(0.0));
        assert_eq!(clamp(2.0, 0.0, 3.0), Some(2.0));
        assert_eq!(clamp(2.0, 3.0, 0.0), None);
        assert_eq!(clamp(2.0, 1.0, 1.0), Some(1.0));
        assert!(clamp(f64::NAN, 0.0, 1.0).unwrap().is_nan());
        assert!(clamp(0.5, f64::NAN, 1.0).unwrap().is_nan());
        assert_eq!(clamp_max(5.0, 3.0), 3.0);
        assert_eq!(clamp_min(-5.0, 3.0), 3.0);
        assert_eq!(clamp_min(5.0, 3.0), 5.0);
        assert!(clamp_max(f64::NAN, 3.0).is_nan());
        assert!(clamp_max(1.0, f64::NAN).is_nan());
        assert!(clamp_min(1.0, f64::NAN).is_nan());
        assert_eq!(clamp_min(1.0, f64::INFINITY), f64::INFINITY);
        assert_eq!(clamp_max(-1.0, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert!(go_max(0.0, -0.0).is_sign_positive());
        assert!(go_min(0.0, -0.0).is_sign_negative());
    }
}
