//! Haven's domain: types, rules and the ports through which the domain talks to the world.
//!
//! Nothing here knows about AWS, HTTP or Lambda. Adapters live in `haven-aws` and
//! `haven-embedded`; both pass the same contract suite (`tests/`).

pub mod catalogue;
pub mod clock;
pub mod comms;
pub mod dispatch;
pub mod emergencies;
pub mod envelope;
pub mod error;
pub mod geo;
pub mod health;
pub mod hospitals;
pub mod identity;
pub mod ids;
pub mod item;
pub mod medical;
pub mod metrics;
pub mod ports;
pub mod roles;
pub mod tracking;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{DomainError, TokenRejection};
pub use ids::{IdGenerator, RandomIds, SequentialIds};
pub use item::{Item, Key, Value};
pub use roles::Role;
