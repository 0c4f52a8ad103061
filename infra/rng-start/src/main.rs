//! Prints the microseconds the first `SystemRandom::fill` takes in this process (AWS-LC seeds
//! its generator then), and a second one for comparison, as one JSON line.

use std::time::Instant;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

fn main() {
    let rng = SystemRandom::new();
    let mut bytes = [0u8; 32];
    let start = Instant::now();
    rng.fill(&mut bytes).expect("random bytes");
    let first = start.elapsed();
    let start = Instant::now();
    rng.fill(&mut bytes).expect("random bytes");
    let second = start.elapsed();
    println!(
        "{{\"first_us\": {}, \"second_us\": {}}}",
        first.as_micros(),
        second.as_micros()
    );
}
