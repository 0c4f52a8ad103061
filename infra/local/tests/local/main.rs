//! The local platform as processes and parts: the binaries as an operator meets them, the
//! stand-in for Lambda's SQS event source, and the gateway killed mid-burst. One test binary,
//! so the workspace links fewer.

mod binaries;
mod crash;
mod poller;
mod process;
