//! Finding the hospitals near a point: read the geohash cells around it on GSI3, ring by
//! ring, until enough hospitals that qualify are known to be the nearest ones, or the rings
//! cover the radius. Ranking then happens in memory (`ranking`).

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};

use crate::hospitals::profile::{GEO_PARTITION_PRECISION, Hospital, geo_partition};
use haven_kernel::error::DomainError;
use haven_kernel::geo::{Coordinates, covered_km, ring};
use haven_kernel::ports::{Index, Query, SortKey, Table};

/// Fine cells (5 characters, about 4.9 km square) serve dense cities; after this many rings
/// the search switches to whole 4-character partitions, so a rural search stays a few dozen
/// queries.
const FINE_PRECISION: usize = 5;
const FINE_RINGS: u32 = 2;
/// Enough to cover any radius Haven accepts (see `MAX_RADIUS_KM`) at Kenya's latitudes.
const MAX_COARSE_RINGS: u32 = 40;
/// Queries in flight at once.
const PARALLEL_QUERIES: usize = 16;
pub const MAX_RADIUS_KM: f64 = 300.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub hospital: Hospital,
    pub distance_km: f64,
}

/// What a search read, for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    pub queries: usize,
    pub items_read: usize,
}

/// Every hospital within `radius_km` of `center` that the rings read, nearest first. The
/// search stops once `wanted` hospitals for which `qualifies` holds lie within the distance
/// the rings already cover (so no nearer qualifying one can be missing), or when the rings
/// cover the radius.
pub async fn candidates<T: Table>(
    table: &T,
    center: Coordinates,
    radius_km: f64,
    wanted: usize,
    qualifies: impl Fn(&Hospital) -> bool,
) -> Result<(Vec<Candidate>, SearchStats), DomainError> {
    let mut found: HashMap<String, Candidate> = HashMap::new();
    let mut stats = SearchStats::default();
    let stages = [
        (FINE_PRECISION, 0..=FINE_RINGS),
        (GEO_PARTITION_PRECISION, 0..=MAX_COARSE_RINGS),
    ];
    'stages: for (precision, rings) in stages {
        for k in rings {
            let cells = ring(center, precision, k);
            let pages: Vec<Vec<haven_kernel::item::Item>> = futures::stream::iter(cells)
                .map(|cell| read_cell(table, cell))
                .buffer_unordered(PARALLEL_QUERIES)
                .try_collect()
                .await?;
            for items in pages {
                stats.queries += 1;
                stats.items_read += items.len();
                for item in items {
                    let Some(hospital) = Hospital::from_item(&item) else {
                        continue;
                    };
                    let distance_km = center.distance_km(hospital.coordinates());
                    if distance_km <= radius_km {
                        found
                            .entry(hospital.hospital_id.clone())
                            .or_insert(Candidate {
                                hospital,
                                distance_km,
                            });
                    }
                }
            }
            let covered = covered_km(center, precision, k);
            if covered >= radius_km {
                break 'stages;
            }
            let complete = found
                .values()
                .filter(|c| c.distance_km <= covered && qualifies(&c.hospital))
                .count();
            if complete >= wanted {
                break 'stages;
            }
        }
    }
    let mut candidates: Vec<Candidate> = found.into_values().collect();
    candidates.sort_by(|a, b| {
        a.distance_km
            .total_cmp(&b.distance_km)
            .then_with(|| a.hospital.hospital_id.cmp(&b.hospital.hospital_id))
    });
    Ok((candidates, stats))
}

/// All hospitals of one cell: a fine cell is a sort-key prefix within its partition.
async fn read_cell<T: Table>(
    table: &T,
    cell: String,
) -> Result<Vec<haven_kernel::item::Item>, DomainError> {
    let mut query =
        Query::partition(geo_partition(&cell[..GEO_PARTITION_PRECISION])).on(Index::Gsi3);
    if cell.len() > GEO_PARTITION_PRECISION {
        query = query.sort(SortKey::BeginsWith(cell));
    }
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = table.query(query.clone().after(cursor)).await?;
        items.extend(page.items);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
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
