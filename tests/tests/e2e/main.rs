//! Haven end to end, on both backends: one test binary (with modules) rather than one per
//! area, so the workspace links fewer binaries. `medical` and `metrics` stay binaries of
//! their own: each installs a process-wide log subscriber.

mod catalogue;
mod comms;
mod contract;
mod emergencies;
mod gateway;
mod identity;
mod kmhfl;
mod labs;
mod patients;
mod search;
mod tracking;
