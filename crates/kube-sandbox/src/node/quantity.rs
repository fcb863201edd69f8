//! Resource quantities (`100m`, `0.5`, `128Mi`, `1G`) as the scheduler compares them.

/// CPU in millicores.
pub fn cpu_millis(q: &str) -> Option<i64> {
    let q = q.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m.parse::<f64>().ok().map(|v| v.ceil() as i64);
    }
    q.parse::<f64>().ok().map(|v| (v * 1000.0).ceil() as i64)
}

/// Memory (or any byte quantity) in bytes.
pub fn bytes(q: &str) -> Option<i64> {
    let q = q.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("m", 0.001),
    ];
    for (s, f) in SUFFIXES {
        if let Some(n) = q.strip_suffix(s) {
            return n.parse::<f64>().ok().map(|v| (v * f).ceil() as i64);
        }
    }
    q.parse::<f64>().ok().map(|v| v.ceil() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_memory_quantities_parse() {
        assert_eq!(cpu_millis("100m"), Some(100));
        assert_eq!(cpu_millis("0.5"), Some(500));
        assert_eq!(cpu_millis("4"), Some(4000));
        assert_eq!(bytes("128Mi"), Some(134217728));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("8Gi"), Some(8589934592));
        assert_eq!(bytes("512"), Some(512));
        assert_eq!(cpu_millis("lots"), None);
    }
}
