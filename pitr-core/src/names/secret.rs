//! `Secret`: a value that must never be shown.

use std::fmt;

/// What every secret looks like in output.
pub const REDACTED: &str = "<redacted>";

/// A secret value (S3 key, cipher passphrase, ...). `Debug`, `Display` and serialization all
/// print `<redacted>`; only [`Secret::expose`] gives the value, for writing it to a file with a
/// private mode.
///
/// A plan that went through JSON carries `<redacted>` where a secret was; such a secret is a
/// placeholder ([`Secret::is_placeholder`]) and pitr refuses to write it anywhere.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Call only to write it where it belongs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether this is the redaction placeholder rather than a real value.
    pub fn is_placeholder(&self) -> bool {
        self.0 == REDACTED
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    /// Reads a secret from a config or spec: strings, and numbers or booleans as written.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match value {
            serde_json::Value::String(s) => Ok(Secret(s)),
            serde_json::Value::Number(n) => Ok(Secret(n.to_string())),
            serde_json::Value::Bool(b) => Ok(Secret(b.to_string())),
            _ => Err(serde::de::Error::custom("a secret must be a string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_its_value() {
        let s = Secret::new("S3User.Backup");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<redacted>\"");
        assert_eq!(s.expose(), "S3User.Backup");
        let back: Secret = serde_json::from_str("\"<redacted>\"").unwrap();
        assert!(back.is_placeholder());
    }
}
