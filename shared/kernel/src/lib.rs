//! The kernel every Haven context stands on: the ports (traits through which a context talks
//! to the world), the item model of the one table, the clock and ids, domain errors, envelope
//! sealing, roles, the audit trail, geography, the queue and topic catalogue, pipeline
//! settings and the state a process keeps between requests.
//!
//! Nothing here knows about AWS, HTTP or Lambda, and nothing here knows any context: contexts
//! depend on the kernel, never the other way round. Adapters live in `haven-aws` and
//! `haven-embedded`; both pass the same contract suite (`tests/`).

pub mod audit;
pub mod blind_index;
pub mod cache;
pub mod catalogue;
pub mod clock;
pub mod envelope;
pub mod error;
pub mod geo;
pub mod health;
pub mod ids;
pub mod item;
pub mod metrics;
pub mod person;
pub mod phone;
pub mod ports;
pub mod record;
pub mod refs;
pub mod roles;
pub mod settings;

pub use cache::ProcessCache;
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{DomainError, TokenRejection};
pub use ids::{IdGenerator, RandomIds, SequentialIds};
pub use item::{Item, Key, Value};
pub use roles::Role;
