//! Version constraints (`~1.2`, `>=1.20.0-0`, `1.x || 2.x`) as Helm checks them for
//! dependencies and `kubeVersion`, following the Masterminds/semver rules Helm uses.
//!
//! Written here because the `semver` crate follows Cargo's rules, which differ (no
//! `||`, no `x` wildcards in the same places, different pre-release matching).

/// A parsed version: major, minor, patch and pre-release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
}

impl Version {
    /// Parses a loose version (`v1`, `1.2`, `1.2.3-rc.1+meta`).
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim().trim_start_matches('v');
        let s = s.split('+').next()?;
        let (nums, pre) = match s.split_once('-') {
            Some((n, p)) => (n, p.to_string()),
            None => (s, String::new()),
        };
        let mut it = nums.split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next().map(|p| p.parse().ok()).unwrap_or(Some(0))?;
        let patch = it.next().map(|p| p.parse().ok()).unwrap_or(Some(0))?;
        if it.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    fn cmp(&self, o: &Version) -> std::cmp::Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                (false, false) => self.pre.cmp(&o.pre),
            })
    }
}

/// Whether `version` satisfies `constraint`; false when either does not parse.
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    let Some(v) = Version::parse(version) else {
        return false;
    };
    if constraint.trim().is_empty() {
        return false;
    }
    constraint.split("||").any(|group| {
        let group = group.replace(", ", ",").replace(',', " ");
        let mut any = false;
        let mut ok = true;
        // An operator may stand apart from its version (`>= 1.2`).
        let mut parts: Vec<String> = Vec::new();
        for tok in group.split_whitespace() {
            match parts.last_mut() {
                Some(last) if last.chars().all(|c| "<>=!~^".contains(c)) => last.push_str(tok),
                _ => parts.push(tok.to_string()),
            }
        }
        let mut i = 0;
        while i < parts.len() {
            // `1.2 - 1.4` ranges.
            if parts.get(i + 1).map(String::as_str) == Some("-") && i + 2 < parts.len() {
                ok &= check(&format!(">={}", parts[i]), &v)
                    && check(&format!("<={}", parts[i + 2]), &v);
                i += 3;
                any = true;
                continue;
            }
            ok &= check(&parts[i], &v);
            any = true;
            i += 1;
        }
        any && ok
    })
}

fn check(c: &str, v: &Version) -> bool {
    let ops = [">=", "<=", "!=", "=>", "=<", ">", "<", "=", "~>", "~", "^"];
    let (op, rest) = ops
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|r| (*op, r.trim())))
        .unwrap_or(("", c));
    let rest = rest.trim_start_matches('v');
    let parts: Vec<&str> = rest.split('-').next().unwrap_or("").split('.').collect();
    let wild = |p: Option<&&str>| p.is_none_or(|p| matches!(*p, "x" | "X" | "*" | ""));
    let num = |p: Option<&&str>| p.and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
    if rest == "*" || rest.eq_ignore_ascii_case("x") {
        return v.pre.is_empty();
    }
    let Some(cv) = Version::parse(
        &rest
            .split('.')
            .map(|p| if matches!(p, "x" | "X" | "*") { "0" } else { p })
            .collect::<Vec<_>>()
            .join("."),
    ) else {
        return false;
    };
    // A pre-release version only satisfies constraints that carry a pre-release.
    if !v.pre.is_empty() && cv.pre.is_empty() {
        return false;
    }
    let minor_wild = wild(parts.get(1));
    let patch_wild = wild(parts.get(2));
    use std::cmp::Ordering::*;
    let ord = v.cmp(&cv);
    match op {
        "" | "=" => {
            if minor_wild {
                v.major == cv.major
            } else if patch_wild {
                v.major == cv.major && v.minor == cv.minor
            } else {
                ord == Equal
            }
        }
        "!=" => ord != Equal,
        ">" => {
            if minor_wild {
                v.major > cv.major
            } else if patch_wild {
                (v.major, v.minor) > (cv.major, cv.minor)
            } else {
                ord == Greater
            }
        }
        ">=" | "=>" => ord != Less,
        "<" => ord == Less,
        "<=" | "=<" => {
            if minor_wild {
                v.major <= cv.major
            } else if patch_wild {
                (v.major, v.minor) <= (cv.major, cv.minor)
            } else {
                ord != Greater
            }
        }
        "~" | "~>" => ord != Less && v.major == cv.major && (minor_wild || v.minor == cv.minor),
        "^" => {
            if ord == Less {
                return false;
            }
            if cv.major > 0 || minor_wild {
                v.major == cv.major
            } else if cv.minor > 0 || patch_wild {
                v.major == 0 && v.minor == cv.minor
            } else {
                v.major == 0 && v.minor == 0 && v.patch == num(parts.get(2))
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints() {
        assert!(is_compatible_range("0.1.0", "0.1.0"));
        assert!(!is_compatible_range("0.1.0", "0.1.1"));
        assert!(is_compatible_range(">=1.20.0-0", "v1.20.0"));
        assert!(!is_compatible_range(">=1.31.0-0", "v1.20.0"));
        assert!(is_compatible_range("~1.2.0", "1.2.9"));
        assert!(!is_compatible_range("~1.2.0", "1.3.0"));
        assert!(is_compatible_range("^1.2", "1.9.0"));
        assert!(is_compatible_range("1.x || 3.x", "3.1.0"));
        assert!(is_compatible_range(">= 1.2, < 2", "1.5.0"));
        assert!(!is_compatible_range("", "1.0.0"));
        assert!(!is_compatible_range("1.0.0", "1.0.0-rc1"));
    }
}
