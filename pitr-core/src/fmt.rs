//! How pitr writes times and sizes for people: one place, so every message, plan and report
//! reads the same.
//!
//! ```
//! use pitr_core::fmt;
//! assert_eq!(fmt::epoch(1_795_465_665), "2026-11-23 20:27:45+00");
//! assert_eq!(fmt::bytes(23_287_584), "22.2 MiB");
//! assert_eq!(fmt::bytes(512), "512 B");
//! ```

/// Epoch seconds the way targets are written (`2026-11-23 20:27:45+00`).
pub fn epoch(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(
            || secs.to_string(),
            |t| t.strftime("%Y-%m-%d %H:%M:%S+00").to_string(),
        )
}

/// A size in bytes with a binary unit and one decimal (`22.2 MiB`); bytes below 1 KiB as they
/// are. JSON keeps plain bytes; this is for text.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut unit = 0;
    let mut scale: u64 = 1024;
    while unit + 1 < UNITS.len() && n / scale >= 1024 {
        scale *= 1024;
        unit += 1;
    }
    // Tenths without floating point: (n * 10 / scale), rounded down.
    let tenths = u128::from(n) * 10 / u128::from(scale);
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_expect() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(16 << 20), "16.0 MiB");
        assert_eq!(bytes(u64::MAX), "15.9 EiB");
        assert_eq!(epoch(u64::MAX), u64::MAX.to_string());
    }
}
