//! Positions on the Earth and the distances between them.

use geo::{Distance, Haversine, Point};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// A WGS 84 position in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

impl Coordinates {
    /// Checks range and finiteness; `field` prefixes the field names in errors.
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, DomainError> {
        if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
            return Err(DomainError::invalid(
                "latitude",
                "latitude must be between -90 and 90",
            ));
        }
        if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
            return Err(DomainError::invalid(
                "longitude",
                "longitude must be between -180 and 180",
            ));
        }
        Ok(Coordinates {
            latitude,
            longitude,
        })
    }

    fn point(self) -> Point<f64> {
        Point::new(self.longitude, self.latitude)
    }

    /// Great-circle distance in kilometres.
    pub fn distance_km(self, other: Coordinates) -> f64 {
        Haversine.distance(self.point(), other.point()) / 1000.0
    }

    /// The geohash of this position at `precision` characters (1 to 12).
    pub fn geohash(self, precision: usize) -> String {
        const BASE32: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
        let (mut lat, mut lng) = ((-90.0f64, 90.0f64), (-180.0f64, 180.0f64));
        let mut hash = String::with_capacity(precision);
        let (mut bits, mut ch, mut even) = (0, 0usize, true);
        while hash.len() < precision.clamp(1, 12) {
            let (range, value) = if even {
                (&mut lng, self.longitude)
            } else {
                (&mut lat, self.latitude)
            };
            let mid = (range.0 + range.1) / 2.0;
            ch <<= 1;
            if value >= mid {
                ch |= 1;
                range.0 = mid;
            } else {
                range.1 = mid;
            }
            even = !even;
            bits += 1;
            if bits == 5 {
                hash.push(BASE32[ch] as char);
                bits = 0;
                ch = 0;
            }
        }
        hash
    }
}

/// Height and width in degrees of a geohash cell of `precision` characters.
pub fn cell_size_degrees(precision: usize) -> (f64, f64) {
    let bits = 5 * precision.clamp(1, 12) as i32;
    let lng_bits = (bits + 1) / 2;
    let lat_bits = bits / 2;
    (180.0 / 2f64.powi(lat_bits), 360.0 / 2f64.powi(lng_bits))
}

/// The geohash cells of `precision` characters at ring `k` around the cell holding `center`:
/// every cell whose row and column offsets have a largest magnitude of exactly `k` (ring 0 is
/// the cell itself). Longitude wraps; rows beyond a pole do not exist.
pub fn ring(center: Coordinates, precision: usize, k: u32) -> Vec<String> {
    let (h, w) = cell_size_degrees(precision);
    let rows = (180.0 / h).round() as i64;
    let cols = (360.0 / w).round() as i64;
    let row = (((center.latitude + 90.0) / h).floor() as i64).clamp(0, rows - 1);
    let col = (((center.longitude + 180.0) / w).floor() as i64).clamp(0, cols - 1);
    let k = i64::from(k);
    let mut cells = Vec::new();
    for dy in -k..=k {
        let r = row + dy;
        if !(0..rows).contains(&r) {
            continue;
        }
        let step = if dy.abs() == k { 1 } else { (2 * k).max(1) };
        let mut dx = -k;
        while dx <= k {
            let c = (col + dx).rem_euclid(cols);
            // The cell's centre, so rounding at a cell edge cannot pick the neighbour.
            let centre = Coordinates {
                latitude: -90.0 + (r as f64 + 0.5) * h,
                longitude: -180.0 + (c as f64 + 0.5) * w,
            };
            cells.push(centre.geohash(precision));
            dx += step;
        }
    }
    cells.sort_unstable();
    cells.dedup();
    cells
}

/// A distance every point within rings 0..=k around `center` is guaranteed to cover: any
/// place nearer than this lies in one of those cells.
pub fn covered_km(center: Coordinates, precision: usize, k: u32) -> f64 {
    let (h, w) = cell_size_degrees(precision);
    let k = f64::from(k);
    // The narrowest a cell gets within the block is at its most poleward row.
    let far_lat = (center.latitude.abs() + (k + 1.0) * h).min(90.0);
    let width_km = w * 111.32 * far_lat.to_radians().cos();
    let height_km = h * 110.57;
    k * width_km.min(height_km).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nairobi_to_mombasa_is_about_440_km() {
        let nairobi = Coordinates::new(-1.2921, 36.8219).expect("valid");
        let mombasa = Coordinates::new(-4.0435, 39.6682).expect("valid");
        let d = nairobi.distance_km(mombasa);
        assert!((430.0..450.0).contains(&d), "{d}");
    }

    #[test]
    fn out_of_range_coordinates_name_their_field() {
        let err = Coordinates::new(91.0, 0.0).expect_err("invalid");
        assert_eq!(err.field(), Some("latitude"));
        let err = Coordinates::new(0.0, f64::NAN).expect_err("invalid");
        assert_eq!(err.field(), Some("longitude"));
    }

    #[test]
    fn rings_surround_the_centre_cell() {
        let knh = Coordinates::new(-1.30088, 36.80734).expect("valid");
        assert_eq!(ring(knh, 5, 0), vec![knh.geohash(5)]);
        let first = ring(knh, 5, 1);
        assert_eq!(first.len(), 8);
        assert!(!first.contains(&knh.geohash(5)));
        assert_eq!(ring(knh, 5, 2).len(), 16);
        // Every point within the covered distance lies in rings 0..=k.
        for k in 0..4u32 {
            let covered = covered_km(knh, 5, k);
            let cells: std::collections::HashSet<String> =
                (0..=k).flat_map(|i| ring(knh, 5, i)).collect();
            for step in 0..72 {
                let bearing = f64::from(step) * 5.0_f64.to_radians();
                let d = covered * 0.999;
                let p = Coordinates {
                    latitude: knh.latitude + d / 110.57 * bearing.cos(),
                    longitude: knh.longitude
                        + d / (111.32 * knh.latitude.to_radians().cos()) * bearing.sin(),
                };
                assert!(cells.contains(&p.geohash(5)), "k={k} bearing={step}");
            }
        }
    }

    #[test]
    fn rings_wrap_the_antimeridian_and_stop_at_the_poles() {
        let east = Coordinates::new(0.0, 179.99).expect("valid");
        let cells = ring(east, 4, 1);
        assert_eq!(cells.len(), 8);
        assert!(
            cells
                .iter()
                .any(|c| c.starts_with('8') || c.starts_with('2'))
        );
        let pole = Coordinates::new(89.99, 0.0).expect("valid");
        assert_eq!(ring(pole, 4, 1).len(), 5);
    }

    #[test]
    fn geohash_matches_the_reference_encoding() {
        // Reference value from the original geohash.org algorithm.
        let c = Coordinates::new(57.64911, 10.40744).expect("valid");
        assert_eq!(c.geohash(11), "u4pruydqqvj");
        let knh = Coordinates::new(-1.30088, 36.80734).expect("valid");
        assert!(knh.geohash(5).starts_with("kzf"));
    }
}
