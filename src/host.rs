//! The host machine as the loaders and the run's memory estimate see it: how much memory is
//! available right now. The lowest layer, so `data` and `backend` can ask without reaching up
//! into `sim`.

/// `MemAvailable` from /proc/meminfo (Linux); `None` where it cannot be read.
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Bytes in binary units ("3.0 GiB").
pub fn human(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = bytes as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    format!("{x:.1} {}", UNITS[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human(512), "512.0 B");
        assert_eq!(human(3 << 30), "3.0 GiB");
        assert_eq!(human(5 << 50), "5.0 PiB");
    }

    #[test]
    fn reads_available_memory_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(available_bytes().is_some_and(|b| b > 1 << 20));
        }
    }
}
