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
    fn geohash_matches_the_reference_encoding() {
        // Reference value from the original geohash.org algorithm.
        let c = Coordinates::new(57.64911, 10.40744).expect("valid");
        assert_eq!(c.geohash(11), "u4pruydqqvj");
        let knh = Coordinates::new(-1.30088, 36.80734).expect("valid");
        assert!(knh.geohash(5).starts_with("kzf"));
    }
}
