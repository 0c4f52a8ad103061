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

use crate::hospitals::capability::never_takes_emergencies;
use crate::hospitals::profile::Hospital;
use crate::hospitals::ranking::{
    Care, Criteria, NEAREST_BEYOND, NearestBeyond, Ranking, rank, static_reason, upper_bound,
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

/// Hospitals by grid cell, in one sorted run: a search walks each row of cells its box
/// covers as one contiguous slice (a binary search to its start), so a 100 km search looks
/// only at the hospitals in its box, with no hashing and no pointer chasing.
#[derive(Default)]
struct Grid {
    /// Occupied cells in (row, column) order, each with where its hospitals start in `members`.
    cells: Vec<((i32, i32), u32)>,
    /// Hospital indexes, cell after cell.
    members: Vec<u32>,
}

impl Grid {
    fn new(mut entries: Vec<((i32, i32), u32)>) -> Self {
        entries.sort_unstable();
        let mut grid = Grid::default();
        for (at, i) in entries {
            if grid.cells.last().is_none_or(|(c, _)| *c != at) {
                grid.cells.push((at, grid.members.len() as u32));
            }
            grid.members.push(i);
        }
        grid
    }

    /// The hospitals of the cells from `(row, first)` to `(row, last)`.
    fn row(&self, row: i32, first: i32, last: i32) -> &[u32] {
        let start = self.cells.partition_point(|(c, _)| *c < (row, first));
        let end = self.cells.partition_point(|(c, _)| *c <= (row, last));
        let offset = |k: usize| {
            self.cells
                .get(k)
                .map_or(self.members.len(), |(_, m)| *m as usize)
        };
        &self.members[offset(start)..offset(end)]
    }
}

/// Every hospital's profile as of one version, with grids to find those near a point: one of
/// every facility, and one of those that may take an emergency.
pub struct Directory {
    pub version: i64,
    pub loaded_at: Timestamp,
    hospitals: Vec<Hospital>,
    /// Where each hospital is, beside the profiles: a search's distance loop reads these only.
    coordinates: Vec<Coordinates>,
    grid: Grid,
    emergency_grid: Grid,
    never_emergency: Vec<bool>,
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
        let never_emergency: Vec<bool> = hospitals.iter().map(never_takes_emergencies).collect();
        let coordinates: Vec<Coordinates> = hospitals.iter().map(Hospital::coordinates).collect();
        let cells: Vec<((i32, i32), u32)> = hospitals
            .iter()
            .enumerate()
            .map(|(i, h)| (cell(h.latitude, h.longitude), i as u32))
            .collect();
        let emergency_cells = cells
            .iter()
            .copied()
            .filter(|&(_, i)| !never_emergency[i as usize])
            .collect();
        Directory {
            version,
            loaded_at,
            hospitals,
            coordinates,
            grid: Grid::new(cells),
            emergency_grid: Grid::new(emergency_cells),
            never_emergency,
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
        let mut found = self.near(center, radius_km);
        found.sort_by(|a, b| {
            a.1.total_cmp(&b.1).then_with(|| {
                self.hospitals[a.0]
                    .hospital_id
                    .cmp(&self.hospitals[b.0].hospital_id)
            })
        });
        found
    }

    /// As [`Self::within`], in no particular order (a search orders what it needs itself).
    pub fn near(&self, center: Coordinates, radius_km: f64) -> Vec<(usize, f64)> {
        self.near_in(&self.grid, center, radius_km)
    }

    fn near_in(&self, grid: &Grid, center: Coordinates, radius_km: f64) -> Vec<(usize, f64)> {
        // A degree of latitude is 111 km everywhere; of longitude, less away from the equator.
        let dlat = radius_km / 110.0 + CELL_DEGREES;
        let shrink = center.latitude.to_radians().cos().abs().max(0.01);
        let dlng = (radius_km / (111.3 * shrink) + CELL_DEGREES).min(360.0);
        let (lo, hi) = (
            cell(center.latitude - dlat, center.longitude - dlng),
            cell(center.latitude + dlat, center.longitude + dlng),
        );
        let mut found = Vec::new();
        for row in lo.0..=hi.0 {
            for &i in grid.row(row, lo.1, hi.1) {
                let d = center.distance_km(self.coordinates[i as usize]);
                if d <= radius_km {
                    found.push((i as usize, d));
                }
            }
        }
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

/// How old a hospital's live data (beds, emergency department, record of answering) may be
/// when a search ranks it. Within one process a change is seen at once (the write forgets the
/// copy); from another process, within this bound. A burst of alerts in one town reads each
/// hospital about once a second instead of once per alert.
pub const LIVE_FRESHNESS: Duration = Duration::from_secs(1);

/// Live items this process read lately, decoded, with when they were read.
#[derive(Default)]
struct LiveCopies {
    copies: std::sync::Mutex<HashMap<String, (Arc<Hospital>, i64)>>,
}

impl LiveCopies {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<Hospital>, i64)>> {
        self.copies.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// This process wrote `hospital_id` (a capacity report, an answer counted, a profile change):
/// its next search reads it afresh.
pub fn forget_live<P: Ports>(ports: &P, hospital_id: &str) {
    ports.cache().get::<LiveCopies>().lock().remove(hospital_id);
}

/// The hospitals at `picks` as they are now (their live items, or copies younger than
/// [`LIVE_FRESHNESS`]); gone ones are dropped.
async fn read_live<P: Ports>(
    ports: &P,
    directory: &Directory,
    picks: &[(usize, f64)],
    stats: &mut SearchStats,
) -> Result<Vec<Candidate>, DomainError> {
    if picks.is_empty() {
        return Ok(vec![]);
    }
    let copies = ports.cache().get::<LiveCopies>();
    let now = ports.clock().now().millis();
    let fresh_after = now - LIVE_FRESHNESS.as_millis() as i64;
    let mut found: Vec<Option<Arc<Hospital>>> = {
        let held = copies.lock();
        picks
            .iter()
            .map(|(i, _)| {
                held.get(&directory.hospitals[*i].hospital_id)
                    .filter(|(_, at)| *at > fresh_after)
                    .map(|(h, _)| h.clone())
            })
            .collect()
    };
    let missing: Vec<usize> = (0..picks.len()).filter(|&k| found[k].is_none()).collect();
    if !missing.is_empty() {
        let keys: Vec<Key> = missing
            .iter()
            .map(|&k| Hospital::key(&directory.hospitals[picks[k].0].hospital_id))
            .collect();
        let items = ports.table().get_many(&keys).await?;
        stats.queries += 1;
        stats.items_read += keys.len();
        let mut held = copies.lock();
        if held.len() > 4 * directory.len().max(1_000) {
            held.clear();
        }
        for (&k, item) in missing.iter().zip(items) {
            if let Some(h) = item.as_ref().and_then(Hospital::from_item) {
                let h = Arc::new(h);
                held.insert(h.hospital_id.clone(), (h.clone(), now));
                found[k] = Some(h);
            }
        }
    }
    Ok(picks
        .iter()
        .zip(found)
        .filter_map(|((_, d), h)| {
            h.map(|h| Candidate {
                hospital: Arc::unwrap_or_clone(h),
                distance_km: *d,
            })
        })
        .collect())
}

/// Radii a search tries before the one asked for: most answers are settled close by.
const STEPS_KM: [f64; 3] = [10.0, 25.0, 50.0];

/// Searches and ranks, from the directory and the candidates' live items: the same answer
/// as ranking every hospital within the radius with its live data (`tests/search.rs`).
///
/// It looks within 10, 25 and 50 km first. When the answer within `r` is full (`limit`
/// offerable hospitals) and its last score beats the best anything further than `r` could
/// reach, nothing further can enter it or be shown as passed over (only hospitals nearer
/// than the top are), so it is the answer for the whole radius.
pub async fn find<P: Ports>(
    ports: &P,
    center: Coordinates,
    radius_km: f64,
    criteria: &Criteria,
) -> Result<(Ranking, SearchStats), DomainError> {
    let directory = current(ports).await?;
    let mut total = SearchStats::default();
    for step in STEPS_KM.into_iter().filter(|&r| r < radius_km) {
        let (ranking, stats) = find_within(ports, &directory, center, step, criteria).await?;
        total.queries += stats.queries;
        total.items_read += stats.items_read;
        let full = ranking.hospitals.len() >= criteria.limit.max(1)
            && ranking.hospitals.iter().all(|h| h.last_resort.is_none());
        if full
            && ranking
                .hospitals
                .last()
                .is_some_and(|h| h.score > crate::hospitals::ranking::best_possible_beyond(step))
        {
            total.in_radius = stats.in_radius;
            return Ok((ranking, total));
        }
    }
    let (ranking, stats) = find_within(ports, &directory, center, radius_km, criteria).await?;
    total.queries += stats.queries;
    total.items_read += stats.items_read;
    total.in_radius = stats.in_radius;
    Ok((ranking, total))
}

async fn find_within<P: Ports>(
    ports: &P,
    directory: &Directory,
    center: Coordinates,
    radius_km: f64,
    criteria: &Criteria,
) -> Result<(Ranking, SearchStats), DomainError> {
    let mut stats = SearchStats::default();
    // An emergency search looks only at the facilities that may take one; the rest are
    // passed over on sight, and only the nearest of them are ever shown (below).
    let emergency = criteria.care == Care::Emergency;
    let grid = if emergency {
        &directory.emergency_grid
    } else {
        &directory.grid
    };
    let near = directory.near_in(grid, center, radius_km);
    stats.in_radius = near.len();
    // Passed over on the profile alone, and the rest with the best each could score.
    let mut ruled_out: Vec<(f64, usize)> = Vec::new();
    let mut open: Vec<(f64, usize, f64)> = Vec::new();
    for &(i, d) in &near {
        let h = &directory.hospitals[i];
        if static_reason(h, criteria).is_some() {
            ruled_out.push(((d * 1000.0).round(), i));
        } else {
            open.push((upper_bound(h, d, criteria), i, d));
        }
    }
    open.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.2.total_cmp(&b.2))
            .then_with(|| a.1.cmp(&b.1))
    });
    let wanted = criteria.limit.max(1);
    let mut read: Vec<Candidate> = Vec::new();
    let mut scores: Vec<f64> = Vec::new();
    let mut next = 0;
    while next < open.len() {
        let end = (next + batch_size(wanted)).min(open.len());
        let picks: Vec<(usize, f64)> = open[next..end].iter().map(|&(_, i, d)| (i, d)).collect();
        for c in read_live(ports, directory, &picks, &mut stats).await? {
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
    let top = rank(&read, criteria)
        .hospitals
        .first()
        .map(|h| h.distance_km);
    if emergency {
        // Facilities that never take an emergency appear only nearer than the top (or, with
        // nothing to offer, anywhere in the radius).
        let reach = top.map_or(radius_km, |t| (t + 0.001).min(radius_km));
        for (i, d) in directory.near_in(&directory.grid, center, reach) {
            if directory.never_emergency[i] {
                ruled_out.push(((d * 1000.0).round(), i));
            }
        }
    }
    // Only the nearest of those can be shown: the answer lists at most MAX_PASSED_OVER,
    // nearest first by rounded distance then id, so ties at the edge stay in.
    let by_shown = |a: &(f64, usize), b: &(f64, usize)| {
        a.0.total_cmp(&b.0).then_with(|| {
            directory.hospitals[a.1]
                .hospital_id
                .cmp(&directory.hospitals[b.1].hospital_id)
        })
    };
    let shown = crate::hospitals::ranking::MAX_PASSED_OVER;
    if ruled_out.len() > shown {
        ruled_out.select_nth_unstable_by(shown - 1, by_shown);
        let edge = ruled_out[shown - 1].0;
        ruled_out.retain(|r| r.0 <= edge);
    }
    read.extend(ruled_out.iter().map(|&(_, i)| {
        let h = &directory.hospitals[i];
        Candidate {
            distance_km: center.distance_km(h.coordinates()),
            hospital: h.clone(),
        }
    }));
    // Every unread one nearer than the top is passed over (its bound loses to the list), so
    // only its reason is unknown, and only those that make the shown few need reading: past
    // a full list of what is known, nearest first, none of them can appear.
    if let Some(top) = top {
        let known = rank(&read, criteria).passed_over;
        let edge = (known.len() >= shown)
            .then(|| known.last().map(|p| (p.distance_km, p.hospital_id.clone())))
            .flatten();
        let nearer: Vec<(usize, f64)> = open[next..]
            .iter()
            .filter(|&&(_, i, d)| {
                let shown_km = (d * 1000.0).round() / 1000.0;
                shown_km < top
                    && edge.as_ref().is_none_or(|(km, id)| {
                        (shown_km, directory.hospitals[i].hospital_id.as_str())
                            <= (*km, id.as_str())
                    })
            })
            .map(|&(_, i, d)| (i, d))
            .collect();
        for chunk in nearer.chunks(haven_kernel::ports::table::MAX_BATCH_GET) {
            read.extend(read_live(ports, directory, chunk, &mut stats).await?);
        }
    }
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
            d > radius_km && static_reason(&directory.hospitals[i], criteria).is_none()
        })
        .collect();
    for chunk in picks.chunks(batch_size(pool)) {
        beyond.extend(
            read_live(ports, &directory, chunk, &mut stats)
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
