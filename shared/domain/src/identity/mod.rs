pub mod accounts;
pub mod audit;
pub mod codes;
pub mod keys;
pub mod password;
pub mod sessions;
pub mod tokens;
pub mod totp;
