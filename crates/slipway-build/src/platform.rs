//! Target platforms (`linux/amd64`, `linux/arm64/v8`) as the OCI image spec names them.
//!
//! Every build states its platform explicitly so an arm64 laptop does not silently push
//! an arm64 image to amd64 nodes; [`Platform::host`] exists only for an explicit choice.

use std::fmt;
use std::str::FromStr;

/// An `os/architecture[/variant]` triple.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// `amd64`, `arm64`, `arm`, …
    pub architecture: String,
    /// `v8`, `v7`, … when the architecture has variants.
    pub variant: Option<String>,
}

/// A platform string that is not `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform `{0}`: expected `os/arch` or `os/arch/variant`, e.g. `linux/amd64`")]
pub struct InvalidPlatform(pub String);

impl Platform {
    /// `linux/amd64`, what most clusters run.
    pub fn linux_amd64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    /// The platform of the machine running slipway (`linux` and Go's architecture names).
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// Whether an image built for `other` runs here: same os and architecture, and the
    /// same variant when both name one (`arm64` and `arm64/v8` are the same platform).
    pub fn matches(&self, other: &Platform) -> bool {
        let normalize = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", Some("v8")) => None,
            (_, v) => v.map(str::to_owned),
        };
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || normalize(self) == normalize(other))
    }
}

impl FromStr for Platform {
    type Err = InvalidPlatform;

    fn from_str(s: &str) -> Result<Platform, InvalidPlatform> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &&str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(valid) {
            return Err(InvalidPlatform(s.to_owned()));
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_os_arch_variant() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.architecture, "arm64");
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert_eq!(
            "linux/amd64".parse::<Platform>().unwrap(),
            Platform::linux_amd64()
        );
    }

    #[test]
    fn rejects_malformed_platforms() {
        for bad in ["linux", "linux/", "Linux/amd64", "a/b/c/d", ""] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn arm64_matches_arm64_v8_but_not_amd64() {
        let arm64: Platform = "linux/arm64".parse().unwrap();
        let v8: Platform = "linux/arm64/v8".parse().unwrap();
        assert!(arm64.matches(&v8));
        assert!(v8.matches(&arm64));
        assert!(!Platform::linux_amd64().matches(&arm64));
        let v7: Platform = "linux/arm/v7".parse().unwrap();
        let v6: Platform = "linux/arm/v6".parse().unwrap();
        assert!(!v7.matches(&v6));
    }
}
