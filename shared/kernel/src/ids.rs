//! Identifier generation, behind a port so tests get predictable ids.

use std::sync::atomic::{AtomicU64, Ordering};

pub trait IdGenerator: Send + Sync {
    /// A new unique id: lowercase hex, sortable by creation time.
    fn next_id(&self) -> String;
}

/// UUIDv7 ids: time-ordered (so newest-first listings sort by id) and random in the rest.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn next_id(&self) -> String {
        uuid::Uuid::now_v7().simple().to_string()
    }
}

/// Ids counting up from 1, zero-padded so they sort: for tests.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl IdGenerator for SequentialIds {
    fn next_id(&self) -> String {
        format!("{:032x}", self.0.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

/// Accepts only ids this platform could have issued, so a path parameter never carries
/// key syntax (`#`) or oversized text into the table.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_unique_and_time_ordered() {
        let a = RandomIds.next_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RandomIds.next_id();
        assert_ne!(a, b);
        assert!(a < b);
        assert!(is_valid_id(&a));
    }

    #[test]
    fn id_validation_refuses_key_syntax() {
        assert!(!is_valid_id("ALERT#1"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id(&"a".repeat(65)));
        assert!(is_valid_id(&SequentialIds::default().next_id()));
    }
}
