//! The identity context: accounts and roles, passwords, sessions and tokens, MFA and the
//! emergency bypass. It stands on the kernel only; every other context reads a caller
//! through its published types (`tokens::Claims`) and `sessions::authenticate`.

pub mod accounts;
pub mod codes;
pub mod keys;
pub mod lookups;
pub mod password;
pub mod sessions;
pub mod tokens;
pub mod totp;
