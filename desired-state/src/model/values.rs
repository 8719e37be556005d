//! Scalar value types that parse and check themselves, so a bad duration or
//! CIDR is reported at its own line and column with the expected form.

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

macro_rules! string_value {
    ($ty:ident, $pattern:expr, $doc:expr) => {
        impl JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "string", "pattern": $pattern, "description": $doc})
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                raw.parse().map_err(de::Error::custom)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

/// A duration such as `10s`, `1m30s` or `500ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DurationSpec(pub Duration);

string_value!(
    DurationSpec,
    r"^([0-9]+(ns|us|ms|s|m|h))+$",
    "A duration: digits and a unit (ns, us, ms, s, m, h), repeated, e.g. 10s or 1m30s."
);

impl FromStr for DurationSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid duration {s:?}: expected digits and a unit (ms, s, m, h), e.g. 10s or 1m30s")
        };
        if s.is_empty() {
            return Err(bad());
        }
        let mut total = Duration::ZERO;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "ns" => Duration::from_nanos(1),
                "us" => Duration::from_micros(1),
                "ms" => Duration::from_millis(1),
                "s" => Duration::from_secs(1),
                "m" => Duration::from_secs(60),
                "h" => Duration::from_secs(3600),
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            let part = unit
                .checked_mul(u32::try_from(n).map_err(|_| bad())?)
                .ok_or_else(bad)?;
            total = total.checked_add(part).ok_or_else(bad)?;
        }
        Ok(DurationSpec(total))
    }
}

impl fmt::Display for DurationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 {
            write!(f, "{}s", d.as_secs())
        } else if d.subsec_nanos() % 1_000_000 == 0 {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{}ns", d.as_nanos())
        }
    }
}

/// A size in bytes: `512Mi`, `1Gi`, `1g`, `1gb` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

string_value!(
    ByteSize,
    r"^[0-9]+(\.[0-9]+)?([kKmMgGtT]i?[bB]?|[bB])?$",
    "A size: a number and an optional unit (Ki, Mi, Gi, Ti; k, m, g, t; b), e.g. 1Gi or 512m."
);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid size {s:?}: expected a number and a unit such as 512Mi, 1Gi or 1g");
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        if num.is_empty() {
            return Err(bad());
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        let lower = unit.to_ascii_lowercase();
        let unit = lower.strip_suffix('b').unwrap_or(&lower);
        let mult: u64 = match unit.trim_end_matches('i') {
            "" => 1,
            "k" => 1 << 10,
            "m" => 1 << 20,
            "g" => 1 << 30,
            "t" => 1 << 40,
            _ => return Err(bad()),
        };
        if unit.matches('i').count() > 1 {
            return Err(bad());
        }
        let bytes = n * mult as f64;
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(bad());
        }
        Ok(ByteSize(bytes as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 4] = [
            (1 << 40, "Ti"),
            (1 << 30, "Gi"),
            (1 << 20, "Mi"),
            (1 << 10, "Ki"),
        ];
        for (size, unit) in UNITS {
            if self.0 >= size && self.0 % size == 0 {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// An IPv4 or IPv6 network in CIDR notation, e.g. `172.20.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr(pub ipnet::IpNet);

string_value!(
    Cidr,
    r"^[0-9a-fA-F.:]+/[0-9]+$",
    "A network in CIDR notation, e.g. 172.20.0.0/16."
);

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let net: ipnet::IpNet = s.parse().map_err(|_| {
            format!("invalid CIDR {s:?}: expected address/prefix, e.g. 172.20.0.0/16")
        })?;
        if net.trunc() != net {
            return Err(format!(
                "invalid CIDR {s:?}: host bits are set; did you mean {}?",
                net.trunc()
            ));
        }
        Ok(Cidr(net))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A Docker image reference: `[registry[:port]/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef(String);

string_value!(
    ImageRef,
    r"^[a-z0-9]",
    "An image reference, e.g. pickme/lucid-redis:latest-arm64 or 127.0.0.1:5000/app@sha256:..."
);

impl ImageRef {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The reference with an explicit tag: Docker treats a bare name as `:latest`.
    pub fn with_default_tag(&self) -> String {
        if self.0.contains('@') || self.tag().is_some() {
            self.0.clone()
        } else {
            format!("{}:latest", self.0)
        }
    }

    pub fn tag(&self) -> Option<&str> {
        let without_digest = self.0.split('@').next().unwrap_or("");
        let last = without_digest.rsplit('/').next().unwrap_or("");
        last.split_once(':').map(|(_, t)| t)
    }

    /// The registry host when the first component names one (has '.', ':' or is localhost).
    pub fn registry(&self) -> Option<&str> {
        registry_host(&self.0)
    }
}

/// Where a reference that names no registry goes.
pub const DEFAULT_REGISTRY: &str = "index.docker.io";

/// The registry host when the first component of `reference` names one
/// (has '.', ':' or is localhost), as Docker decides it.
pub fn registry_host(reference: &str) -> Option<&str> {
    let (first, rest) = reference.split_once('/')?;
    let is_host = first.contains('.') || first.contains(':') || first == "localhost";
    (is_host && !rest.is_empty()).then_some(first)
}

/// Repository and tag of a reference; `latest` when it has none.
pub fn split_tag(reference: &str) -> (String, String) {
    // `repo@sha256:...`: the engine takes the digest where a tag would go.
    if let Some((repo, digest)) = reference.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    match reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((n, t)) => (n.to_string(), t.to_string()),
        None => (reference.to_string(), "latest".to_string()),
    }
}

impl FromStr for ImageRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        check_image_ref(s).map_err(|why| format!("invalid image reference {s:?}: {why}"))?;
        Ok(ImageRef(s.to_string()))
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_image_ref(s: &str) -> Result<(), String> {
    let (name_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let (algo, hex) = d
            .split_once(':')
            .ok_or("the digest must look like sha256:<64 hex digits>")?;
        if algo.is_empty() || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("the digest must look like sha256:<64 hex digits>".into());
        }
    }
    let mut components: Vec<&str> = name_tag.split('/').collect();
    let last = components.pop().unwrap_or("");
    let (last_name, tag) = match last.split_once(':') {
        Some((n, t)) => (n, Some(t)),
        None => (last, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err(format!(
                "tag {t:?} may hold only letters, digits, '_', '.' and '-' (at most 128)"
            ));
        }
    }
    let registry = (components.len() > 0)
        .then(|| components[0])
        .filter(|c| c.contains('.') || c.contains(':') || *c == "localhost");
    let path_start = usize::from(registry.is_some());
    if let Some(host) = registry {
        let ok = host.split(':').count() <= 2
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c));
        if !ok {
            return Err(format!("registry host {host:?} is not a valid host[:port]"));
        }
    }
    for comp in components[path_start..]
        .iter()
        .chain(std::iter::once(&last_name))
    {
        if !valid_path_component(comp) {
            return Err(format!(
                "path component {comp:?} must be lowercase letters and digits, separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn valid_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
        return false;
    }
    let mut sep_run = String::new();
    for &b in bytes {
        if alnum(&b) {
            let ok = sep_run.is_empty()
                || sep_run == "."
                || sep_run == "_"
                || sep_run == "__"
                || sep_run.chars().all(|c| c == '-');
            if !ok {
                return false;
            }
            sep_run.clear();
        } else if b"._-".contains(&b) {
            sep_run.push(b as char);
        } else {
            return false;
        }
    }
    true
}

/// An OCI platform such as `linux/arm64` or `linux/arm/v7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

string_value!(
    Platform,
    r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$",
    "A platform os/arch[/variant], e.g. linux/arm64."
);

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        const ARCHES: [&str; 8] = [
            "amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le",
        ];
        let parts: Vec<&str> = s.split('/').collect();
        let bad =
            || format!("invalid platform {s:?}: expected os/arch[/variant], e.g. linux/arm64");
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        if !ARCHES.contains(&parts[1]) {
            return Err(format!(
                "invalid platform {s:?}: unknown architecture {:?}; known: {}",
                parts[1],
                ARCHES.join(", ")
            ));
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A Unix file mode in octal, e.g. `"0644"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileMode(pub u32);

string_value!(
    FileMode,
    r"^0?[0-7]{3,4}$",
    "A file mode in octal, e.g. \"0644\"."
);

impl FromStr for FileMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = (3..=5).contains(&s.len()) && s.chars().all(|c| ('0'..='7').contains(&c));
        let mode = ok
            .then(|| u32::from_str_radix(s, 8).ok())
            .flatten()
            .filter(|m| *m <= 0o7777);
        mode.map(FileMode).ok_or_else(|| {
            format!("invalid file mode {s:?}: expected octal such as \"0644\" (quote it)")
        })
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_compound_forms() {
        assert_eq!(
            "1m30s".parse::<DurationSpec>().unwrap().0,
            Duration::from_secs(90)
        );
        assert_eq!(
            "500ms".parse::<DurationSpec>().unwrap().0,
            Duration::from_millis(500)
        );
        let err = "10x".parse::<DurationSpec>().unwrap_err();
        assert!(err.contains("invalid duration \"10x\""), "{err}");
        assert!("".parse::<DurationSpec>().is_err());
        assert!("s".parse::<DurationSpec>().is_err());
    }

    #[test]
    fn sizes_accept_kubernetes_and_docker_units() {
        assert_eq!("1Gi".parse::<ByteSize>().unwrap().0, 1 << 30);
        assert_eq!("1gb".parse::<ByteSize>().unwrap().0, 1 << 30);
        assert_eq!("512m".parse::<ByteSize>().unwrap().0, 512 << 20);
        assert_eq!("1.5Gi".parse::<ByteSize>().unwrap().0, 3 << 29);
        let err = "12 parsecs".parse::<ByteSize>().unwrap_err();
        assert!(err.contains("invalid size"), "{err}");
        assert!("1Gii".parse::<ByteSize>().is_err());
    }

    #[test]
    fn cidrs_reject_host_bits_with_the_fix() {
        assert!("172.20.0.0/16".parse::<Cidr>().is_ok());
        let err = "172.20.0.1/16".parse::<Cidr>().unwrap_err();
        assert!(err.contains("did you mean 172.20.0.0/16"), "{err}");
        assert!("172.20.0.0/33".parse::<Cidr>().is_err());
    }

    #[test]
    fn image_refs_follow_the_distribution_grammar() {
        for ok in [
            "redis",
            "pickme/lucid-redis:latest-arm64",
            "127.0.0.1:5000/pickme/lucid-base:python-distroless-arm64",
            "gcr.io/distroless/python3-debian12:arm64",
            "localhost/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(ok.parse::<ImageRef>().is_ok(), "{ok}");
        }
        for bad in [
            "Pickme/Redis",
            "redis:",
            "redis:-x",
            "a//b",
            "-a",
            "redis@sha256:xyz",
        ] {
            assert!(bad.parse::<ImageRef>().is_err(), "{bad}");
        }
        let r: ImageRef = "127.0.0.1:5000/x/y".parse().unwrap();
        assert_eq!(r.registry(), Some("127.0.0.1:5000"));
        assert_eq!(r.tag(), None);
        assert_eq!(r.with_default_tag(), "127.0.0.1:5000/x/y:latest");
    }

    #[test]
    fn platforms_and_modes() {
        let p: Platform = "linux/arm64".parse().unwrap();
        assert_eq!(p.architecture, "arm64");
        assert!("linux/arm65"
            .parse::<Platform>()
            .unwrap_err()
            .contains("known"));
        assert_eq!("0600".parse::<FileMode>().unwrap().0, 0o600);
        assert!("0800".parse::<FileMode>().is_err());
    }
}
