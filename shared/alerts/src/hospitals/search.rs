//! What a search works with: a candidate hospital and its distance, what a search read, and
//! the reference answer (a full scan) that the directory's search is held to. The search
//! itself is `directory::find`.

use haven_kernel::geo::Coordinates;

use crate::hospitals::profile::Hospital;

pub const MAX_RADIUS_KM: f64 = 300.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub hospital: Hospital,
    pub distance_km: f64,
}

/// What a search looked at and read, for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Hospitals of the directory within the radius.
    pub in_radius: usize,
    /// Batch reads of live items.
    pub queries: usize,
    /// Live items read.
    pub items_read: usize,
}

/// The reference answer for benchmarks and tests: every hospital in `hospitals` within the
/// radius, nearest first, found by looking at each one.
pub fn full_scan(hospitals: &[Hospital], center: Coordinates, radius_km: f64) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = hospitals
        .iter()
        .filter_map(|h| {
            let distance_km = center.distance_km(h.coordinates());
            (distance_km <= radius_km).then(|| Candidate {
                hospital: h.clone(),
                distance_km,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.distance_km
            .total_cmp(&b.distance_km)
            .then_with(|| a.hospital.hospital_id.cmp(&b.hospital.hospital_id))
    });
    out
}
