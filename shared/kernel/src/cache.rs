//! What a process keeps between requests: a warm Lambda function, or the local gateway. Each
//! context keeps its own state here under its own type (identity its signing keys, hospitals
//! their directory), so the kernel knows none of them and no context reaches another's.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One per process, held by its ports; never shared between backends.
#[derive(Default)]
pub struct ProcessCache {
    slots: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl ProcessCache {
    /// This process's `T`, made with `T::default()` the first time it is asked for.
    pub fn get<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        // A panic while holding the lock leaves only a map behind: keep using it.
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()));
        match Arc::clone(slot).downcast::<T>() {
            Ok(value) => value,
            // Unreachable: the slot is keyed by T's own type id.
            Err(_) => Arc::new(T::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[derive(Default)]
    struct Counter(AtomicU32);
    #[derive(Default)]
    struct Other(AtomicU32);

    #[test]
    fn each_type_has_one_value_per_cache() {
        let cache = ProcessCache::default();
        cache.get::<Counter>().0.fetch_add(1, Ordering::Relaxed);
        cache.get::<Counter>().0.fetch_add(1, Ordering::Relaxed);
        assert_eq!(cache.get::<Counter>().0.load(Ordering::Relaxed), 2);
        assert_eq!(cache.get::<Other>().0.load(Ordering::Relaxed), 0);
        assert_eq!(
            ProcessCache::default()
                .get::<Counter>()
                .0
                .load(Ordering::Relaxed),
            0
        );
    }
}
