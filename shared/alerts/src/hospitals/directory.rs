//! The hospital directory: every hospital's profile in memory, one copy per process (a warm
//! Lambda function keeps it between invocations), and the search that answers from it.
//!
//! Where a hospital is, what it is and what it treats change rarely; its beds, emergency
//! department and record of answering change all the time. So the directory holds the
//! profiles, and a search reads the live items only of the hospitals it ranks:
//!
//! - **Freshness.** Every change to a profile bumps the directory's version (`DIRECTORY` /
//!   `VERSION`) in the same transaction. A process looks at the version at most every
//!   [`CHECK_EVERY`] and reloads when it moved, and reloads anyway after [`MAX_AGE`]. Capacity
//!   is never taken from the directory: it is read live, in one batch, for the candidates.
//! - **Loading.** The `HOSPITALS#<shard>` views of GSI2 list every hospital in [`SHARDS`]
//!   partitions, read at once: 10,900 KMHFL facilities are 16 parallel paged queries.
//! - **Exactness.** A search takes every hospital in the radius from memory, passes over those
//!   whose profile rules them out, and bounds each other one's score from above (its profile
//!   parts, with the live parts at their best). It reads live items best bound first until the
//!   `limit`-th score beats every unread bound, then reads the unread ones nearer than the top
//!   (they may need explaining in `passed_over`), and ranks what it read with the same `rank`
//!   as a full scan. Nothing it leaves unread could appear in the answer, so the answer is the
//!   full scan's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;

use crate::hospitals::profile::Hospital;
use crate::hospitals::ranking::{
    Criteria, NEAREST_BEYOND, NearestBeyond, Ranking, rank, static_exclusion, upper_bound,
};
use crate::hospitals::search::{Candidate, MAX_RADIUS_KM, SearchStats};
use haven_kernel::Timestamp;
use haven_kernel::error::DomainError;
use haven_kernel::geo::Coordinates;
use haven_kernel::item::{Key, Value};
use haven_kernel::ports::{Index, Ports, Query, Table, TransactOp, Update};

/// Partitions of the GSI2 view that lists every hospital: a load reads them in parallel, and
/// no single partition takes every hospital write.
pub const SHARDS: usize = 16;
/// How long a process trusts its directory without looking at the version.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A directory older than this is reloaded whatever the version says: a missed bump cannot
/// keep a process wrong for long.
pub const MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// A GSI answers a moment behind its table on DynamoDB: after a reload that a new version
/// caused, the directory is read once more this long after, so a hospital the view had not
/// caught up with yet is not missed until `MAX_AGE`.
pub const VIEW_SETTLE: Duration = Duration::from_secs(2);
/// Degrees of latitude and longitude per cell of the in-memory grid (about 5.5 km).
const CELL_DEGREES: f64 = 0.05;

/// The GSI2 partition listing `hospital_id` (`HOSPITALS#07`).
pub fn view_partition(hospital_id: &str) -> String {
    // FNV-1a: stable across processes and builds, unlike the standard library's hasher.
    let hash = hospital_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{}#{:02}", VIEW, hash % SHARDS as u64)
}

/// The prefix of the hospitals' view partitions.
pub const VIEW: &str = "HOSPITALS";

fn version_key() -> Key {
    Key::new("DIRECTORY", "VERSION")
}

/// The operation that tells every process the directory changed: put it in the transaction
/// that changes a profile.
pub fn bump() -> TransactOp {
    TransactOp::Update {
        key: version_key(),
        update: Update::new().add("version", 1),
        condition: None,
    }
}

/// Bumps the version on its own (after an import, which writes many profiles).
pub async fn bump_now<P: Ports>(ports: &P) -> Result<(), DomainError> {
    ports
        .table()
        .update(&version_key(), Update::new().add("version", 1), None)
        .await?;
    changed_here(ports);
    Ok(())
}

/// This process changed a profile (and bumped the version): its next search looks at the
/// version at once, so whoever made the change sees it straight away. Other processes see it
/// within [`CHECK_EVERY`].
pub fn changed_here<P: Ports>(ports: &P) {
    ports
        .cache()
        .get::<Held>()
        .checked_ms
        .store(0, Ordering::Release);
}

/// Every hospital's profile as of one version, with a grid to find those near a point.
pub struct Directory {
    pub version: i64,
    pub loaded_at: Timestamp,
    hospitals: Vec<Hospital>,
    grid: HashMap<(i32, i32), Vec<u32>>,
}

fn cell(latitude: f64, longitude: f64) -> (i32, i32) {
    (
        (latitude / CELL_DEGREES).floor() as i32,
        (longitude / CELL_DEGREES).floor() as i32,
    )
}

impl Directory {
    pub fn new(version: i64, loaded_at: Timestamp, mut hospitals: Vec<Hospital>) -> Self {
        hospitals.sort_by(|a, b| a.hospital_id.cmp(&b.hospital_id));
        let mut grid: HashMap<(i32, i32), Vec<u32>> = HashMap::new();
        for (i, h) in hospitals.iter().enumerate() {
            grid.entry(cell(h.latitude, h.longitude))
                .or_default()
                .push(i as u32);
        }
        Directory {
            version,
            loaded_at,
            hospitals,
            grid,
        }
    }

    pub fn len(&self) -> usize {
        self.hospitals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hospitals.is_empty()
    }

    pub fn hospitals(&self) -> &[Hospital] {
        &self.hospitals
    }

    /// Every hospital within `radius_km` of `center`, nearest first (ties by id), as
    /// (index, distance).
    pub fn within(&self, center: Coordinates, radius_km: f64) -> Vec<(usize, f64)> {
        // A degree of latitude is 111 km everywhere; of longitude, less away from the equator.
        let dlat = radius_km / 110.0 + CELL_DEGREES;
        let shrink = center.latitude.to_radians().cos().abs().max(0.01);
        let dlng = (radius_km / (111.3 * shrink) + CELL_DEGREES).min(360.0);
        let (lo, hi) = (
            cell(center.latitude - dlat, center.longitude - dlng),
            cell(center.latitude + dlat, center.longitude + dlng),
        );
        let mut found = Vec::new();
        let cells = (i64::from(hi.0 - lo.0) + 1) * (i64::from(hi.1 - lo.1) + 1);
        let mut visit = |ids: &Vec<u32>| {
            for &i in ids {
                let h = &self.hospitals[i as usize];
                let d = center.distance_km(h.coordinates());
                if d <= radius_km {
                    found.push((i as usize, d));
                }
            }
        };
        if cells > self.grid.len() as i64 {
            // A huge radius: looking at every occupied cell is cheaper than every possible one.
            self.grid.values().for_each(&mut visit);
        } else {
            for la in lo.0..=hi.0 {
                for lo_ in lo.1..=hi.1 {
                    if let Some(ids) = self.grid.get(&(la, lo_)) {
                        visit(ids);
                    }
                }
            }
        }
        found.sort_by(|a, b| {
            a.1.total_cmp(&b.1).then_with(|| {
                self.hospitals[a.0]
                    .hospital_id
                    .cmp(&self.hospitals[b.0].hospital_id)
            })
        });
        found
    }
}

/// This process's directory (kept in the ports' `ProcessCache`).
#[derive(Default)]
struct Held {
    current: RwLock<Option<Arc<Directory>>>,
    /// When the version was last looked at (clock milliseconds).
    checked_ms: AtomicI64,
    /// When to read the view once more after a change (0: no need).
    settle_ms: AtomicI64,
    /// One reload at a time; the others wait for it and use its result.
    reloading: futures::lock::Mutex<()>,
}

impl Held {
    fn current(&self) -> Option<Arc<Directory>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    fn fresh(&self, now: Timestamp) -> Option<Arc<Directory>> {
        let d = self.current()?;
        let checked = self.checked_ms.load(Ordering::Acquire);
        let young = now.millis().saturating_sub(d.loaded_at.millis()) < MAX_AGE.as_millis() as i64;
        let recent =
            now.millis().saturating_sub(checked) < CHECK_EVERY.as_millis() as i64 && checked > 0;
        let settle = self.settle_ms.load(Ordering::Acquire);
        let settled = settle == 0 || now.millis() < settle;
        (young && recent && settled).then_some(d)
    }
}

async fn stored_version<T: Table>(table: &T) -> Result<i64, DomainError> {
    Ok(table
        .get(&version_key())
        .await?
        .and_then(|i| i.get("version").and_then(Value::as_i64))
        .unwrap_or(0))
}

/// Every hospital, from the view's partitions read in parallel.
pub async fn load_all<T: Table>(table: &T) -> Result<Vec<Hospital>, DomainError> {
    let shards: Vec<Result<Vec<Hospital>, DomainError>> = futures::stream::iter(0..SHARDS)
        .map(|s| async move {
            let query = Query::partition(format!("{VIEW}#{s:02}")).on(Index::Gsi2);
            let mut hospitals = Vec::new();
            let mut cursor = None;
            loop {
                let page = table.query(query.clone().after(cursor)).await?;
                hospitals.extend(page.items.iter().filter_map(Hospital::from_item));
                match page.cursor {
                    Some(next) => cursor = Some(next),
                    None => return Ok(hospitals),
                }
            }
        })
        .buffer_unordered(SHARDS)
        .collect()
        .await;
    let mut all = Vec::new();
    for shard in shards {
        all.extend(shard?);
    }
    Ok(all)
}

/// This process's directory, reloaded when the stored version has moved (looked at no more
/// than every [`CHECK_EVERY`]).
pub async fn current<P: Ports>(ports: &P) -> Result<Arc<Directory>, DomainError> {
    let held = ports.cache().get::<Held>();
    if let Some(d) = held.fresh(ports.clock().now()) {
        return Ok(d);
    }
    let _one_at_a_time = held.reloading.lock().await;
    let now = ports.clock().now();
    if let Some(d) = held.fresh(now) {
        return Ok(d);
    }
    let version = stored_version(ports.table()).await?;
    let settle = held.settle_ms.load(Ordering::Acquire);
    let settle_due = settle != 0 && now.millis() >= settle;
    let previous = held.current();
    if let Some(d) = &previous
        && d.version == version
        && !settle_due
        && now.millis().saturating_sub(d.loaded_at.millis()) < MAX_AGE.as_millis() as i64
    {
        held.checked_ms.store(now.millis(), Ordering::Release);
        return Ok(d.clone());
    }
    // A change seen now: read the view again shortly, in case it lags its table.
    let next_settle = match &previous {
        Some(d) if d.version != version => now.plus(VIEW_SETTLE).millis(),
        _ => 0,
    };
    held.settle_ms.store(next_settle, Ordering::Release);
    let started = std::time::Instant::now();
    let directory = Arc::new(Directory::new(version, now, load_all(ports.table()).await?));
    tracing::info!(
        version,
        hospitals = directory.len(),
        load_ms = started.elapsed().as_millis() as u64,
        "hospital directory loaded"
    );
    *held.current.write().unwrap_or_else(|p| p.into_inner()) = Some(directory.clone());
    held.checked_ms.store(now.millis(), Ordering::Release);
    Ok(directory)
}

/// Live items read per batch: enough for a page of answers and a few spare.
fn batch_size(limit: usize) -> usize {
    (limit * 2).clamp(8, 50)
}

/// The hospitals at `indices` as they are now (their live items); gone ones are dropped.
async fn read_live<T: Table>(
    table: &T,
    directory: &Directory,
    picks: &[(usize, f64)],
    stats: &mut SearchStats,
) -> Result<Vec<Candidate>, DomainError> {
    if picks.is_empty() {
        return Ok(vec![]);
    }
    let keys: Vec<Key> = picks
        .iter()
        .map(|(i, _)| Hospital::key(&directory.hospitals[*i].hospital_id))
        .collect();
    let items = table.get_many(&keys).await?;
    stats.queries += 1;
    stats.items_read += keys.len();
    Ok(picks
        .iter()
        .zip(items)
        .filter_map(|((_, d), item)| {
            item.as_ref()
                .and_then(Hospital::from_item)
                .map(|hospital| Candidate {
                    hospital,
                    distance_km: *d,
                })
        })
        .collect())
}

/// Searches and ranks, from the directory and the candidates' live items: the same answer
/// as ranking every hospital within the radius with its live data (`tests/search.rs`).
pub async fn find<P: Ports>(
    ports: &P,
    center: Coordinates,
    radius_km: f64,
    criteria: &Criteria,
) -> Result<(Ranking, SearchStats), DomainError> {
    let directory = current(ports).await?;
    let mut stats = SearchStats::default();
    let within = directory.within(center, radius_km);
    stats.in_radius = within.len();
    // Passed over on the profile alone: only the nearest few can be shown (the answer shows
    // at most MAX_PASSED_OVER, nearest first by rounded distance, so ties at the edge stay).
    let mut fixed: Vec<Candidate> = Vec::new();
    let mut edge: Option<f64> = None;
    // The rest, best possible score first.
    let mut open: Vec<(f64, usize, f64)> = Vec::new();
    for &(i, d) in &within {
        let h = &directory.hospitals[i];
        if static_exclusion(h, criteria).is_some() {
            let shown = (d * 1000.0).round();
            if edge.is_none_or(|e| shown <= e) {
                fixed.push(Candidate {
                    hospital: h.clone(),
                    distance_km: d,
                });
                if fixed.len() == crate::hospitals::ranking::MAX_PASSED_OVER {
                    edge = Some(shown);
                }
            }
        } else {
            open.push((upper_bound(h, d, criteria), i, d));
        }
    }
    open.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.2.total_cmp(&b.2))
            .then_with(|| a.1.cmp(&b.1))
    });
    let table = ports.table();
    let wanted = criteria.limit.max(1);
    let mut read: Vec<Candidate> = Vec::new();
    let mut scores: Vec<f64> = Vec::new();
    let mut next = 0;
    while next < open.len() {
        let end = (next + batch_size(wanted)).min(open.len());
        let picks: Vec<(usize, f64)> = open[next..end].iter().map(|&(_, i, d)| (i, d)).collect();
        for c in read_live(table, &directory, &picks, &mut stats).await? {
            if criteria.qualifies(&c.hospital) {
                scores.push(crate::hospitals::ranking::score_of(&c, criteria));
            }
            read.push(c);
        }
        next = end;
        scores.sort_by(|a, b| b.total_cmp(a));
        // Settled when the limit-th offerable score beats the best that any unread one
        // could reach (strictly: a tie could go to a nearer unread one).
        if let (Some(&kth), Some(&(bound, ..))) = (scores.get(wanted - 1), open.get(next))
            && kth > bound
        {
            break;
        }
    }
    // The unread ones nearer than the top may have to be explained (`passed_over`).
    let top = rank(&read, criteria)
        .hospitals
        .first()
        .map(|h| h.distance_km);
    if let Some(top) = top {
        let nearer: Vec<(usize, f64)> = open[next..]
            .iter()
            .filter(|&&(_, _, d)| d < top)
            .map(|&(_, i, d)| (i, d))
            .collect();
        for chunk in nearer.chunks(haven_kernel::ports::table::MAX_BATCH_GET) {
            read.extend(read_live(table, &directory, chunk, &mut stats).await?);
        }
    }
    read.extend(fixed);
    Ok((rank(&read, criteria), stats))
}

/// Where to send a patient when nothing qualifies within `radius_km`: of the nearest
/// hospitals that qualify beyond it (out to `MAX_RADIUS_KM`), the best 3 by the same score.
/// Scored, not only sorted by distance, because at 100 km a children's hospital 3 km nearer
/// is not where to send a trauma patient.
pub async fn nearest_beyond<P: Ports>(
    ports: &P,
    center: Coordinates,
    radius_km: f64,
    criteria: &Criteria,
) -> Result<Vec<NearestBeyond>, DomainError> {
    if radius_km >= MAX_RADIUS_KM {
        return Ok(vec![]);
    }
    let directory = current(ports).await?;
    let pool = crate::hospitals::manage::candidate_pool(NEAREST_BEYOND);
    let mut stats = SearchStats::default();
    let mut beyond: Vec<Candidate> = Vec::new();
    // Nearest first, in batches, until enough qualify on their live data.
    let picks: Vec<(usize, f64)> = directory
        .within(center, MAX_RADIUS_KM)
        .into_iter()
        .filter(|&(i, d)| {
            d > radius_km && static_exclusion(&directory.hospitals[i], criteria).is_none()
        })
        .collect();
    for chunk in picks.chunks(batch_size(pool)) {
        beyond.extend(
            read_live(ports.table(), &directory, chunk, &mut stats)
                .await?
                .into_iter()
                .filter(|c| criteria.qualifies(&c.hospital)),
        );
        if beyond.len() >= pool {
            break;
        }
    }
    beyond.truncate(pool);
    let best = Criteria {
        limit: NEAREST_BEYOND,
        ..criteria.clone()
    };
    Ok(rank(&beyond, &best)
        .hospitals
        .into_iter()
        .map(|h| NearestBeyond {
            distance_km: (h.distance_km * 10.0).round() / 10.0,
            level: h.level,
            hospital_id: h.hospital_id,
            name: h.name,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hospitals::search::full_scan;

    fn at(id: &str, latitude: f64, longitude: f64) -> Hospital {
        let mut h: Hospital = serde_json::from_value(serde_json::json!({
            "hospital_id": id, "name": id, "latitude": latitude, "longitude": longitude,
            "level": 4, "ed_status": "open"
        }))
        .expect("hospital");
        h.version = 1;
        h
    }

    #[test]
    fn the_grid_finds_exactly_what_a_scan_finds_nearest_first() {
        let mut hospitals = Vec::new();
        for i in 0..400 {
            let (la, lo) = (
                -1.6 + f64::from(i % 20) * 0.04,
                36.4 + f64::from(i / 20) * 0.05,
            );
            hospitals.push(at(&format!("h{i:03}"), la, lo));
        }
        hospitals.push(at("pole", 4.9, 35.0));
        let d = Directory::new(1, Timestamp::from_millis(0), hospitals.clone());
        for (la, lo, r) in [
            (-1.29, 36.82, 5.0),
            (-1.29, 36.82, 40.0),
            (-1.0, 36.9, 300.0),
            (0.0, 0.0, 1.0),
        ] {
            let center = Coordinates::new(la, lo).expect("point");
            let grid: Vec<(String, f64)> = d
                .within(center, r)
                .into_iter()
                .map(|(i, dist)| (d.hospitals()[i].hospital_id.clone(), dist))
                .collect();
            let scan: Vec<(String, f64)> = full_scan(&hospitals, center, r)
                .into_iter()
                .map(|c| (c.hospital.hospital_id, c.distance_km))
                .collect();
            assert_eq!(grid, scan, "{la},{lo} within {r} km");
        }
    }

    #[test]
    fn view_partitions_are_stable_and_spread() {
        assert_eq!(view_partition("demo-knh"), view_partition("demo-knh"));
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..500 {
            seen.insert(view_partition(&format!("hospital-{i}")));
        }
        assert_eq!(seen.len(), SHARDS);
        assert!(seen.iter().all(|p| p.starts_with("HOSPITALS#")));
    }
}
