//! `GET /patients/search?q=`: finding a hospital's patients by what staff have in hand, over
//! blind-index tokens only. The query is read for what it is:
//!
//! - an MRN (`KNH-000123-M`, any case): exact; a wrong check character is a typo, refused;
//! - an email address;
//! - a phone number in any form people type (`0712…`, `712…`, `+254712…`), which is also
//!   tried as an identifier (a national ID is digits too);
//! - a single word with digits: an identifier of any type (national ID, passport, SHA…);
//! - otherwise name words: each word a prefix of one of the person's names.
//!
//! Name search reads the index partition of its longest word (the most selective) in rank
//! order, so whole-name matches come before prefix matches, then checks the other words
//! against the tokens listed on each candidate, and finally against the opened record (a
//! word longer than the indexed prefixes). When that finds fewer than a page, it tries the
//! words with two neighbouring letters swapped.

use std::collections::HashSet;

use serde::Serialize;

use crate::access::{Purpose, Staff};
use crate::mrn::{Mrn, MrnError};
use crate::names;
use crate::record;
use crate::registry::{self, Opened, PatientView, Status};
use crate::store::{self, IndexEntry, kind};
use haven_kernel::blind_index::{self, BlindIndex};
use haven_kernel::item::Key;
use haven_kernel::ports::{Cursor, Ports, Query, Table};
use haven_kernel::{DomainError, phone};

/// How a result matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    Exact,
    Prefix,
    /// With two neighbouring letters swapped.
    Approximate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    #[serde(rename = "match")]
    pub matched: Match,
    #[serde(flatten)]
    pub patient: PatientView,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchPage {
    pub query_kind: &'static str,
    pub results: Vec<Found>,
    pub next_cursor: Option<String>,
}

/// What a query was read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Whole values of these kinds (kind, canonical value).
    Exact(&'static str, Vec<(&'static str, String)>),
    Names(Vec<String>),
}

impl Reading {
    pub fn kind(&self) -> &'static str {
        match self {
            Reading::Exact(kind, _) => kind,
            Reading::Names(_) => "name",
        }
    }
}

/// Reads a query, or says which part of it is wrong.
pub fn read_query(q: &str) -> Result<Reading, DomainError> {
    let q = q.trim();
    if q.is_empty() || q.chars().count() > 100 {
        return Err(DomainError::invalid(
            "q",
            "a search has 1 to 100 characters",
        ));
    }
    if Mrn::looks_like(q) {
        return match Mrn::parse(q) {
            Ok(mrn) => Ok(Reading::Exact("mrn", vec![(kind::MRN, mrn.to_string())])),
            Err(e @ MrnError::Check) | Err(e @ MrnError::Shape) => {
                Err(DomainError::invalid("q", e.to_string()))
            }
        };
    }
    if q.contains('@') {
        let email =
            record::email(q).ok_or_else(|| DomainError::invalid("q", "not an email address"))?;
        return Ok(Reading::Exact("email", vec![(kind::EMAIL, email)]));
    }
    let digits = q.chars().filter(char::is_ascii_digit).count();
    let identifier = crate::identifiers::canonical(q);
    if digits >= 9
        && let Some(e164) = phone::normalise(q)
    {
        let mut terms = vec![(kind::PHONE, e164)];
        if identifier.bytes().all(|b| b.is_ascii_alphanumeric()) {
            terms.push((kind::IDENTIFIER, identifier));
        }
        return Ok(Reading::Exact("phone", terms));
    }
    if digits > 0 && !q.contains(char::is_whitespace) {
        return Ok(Reading::Exact(
            "identifier",
            vec![(kind::IDENTIFIER, identifier)],
        ));
    }
    let words = names::words(q);
    if words.is_empty() {
        return Err(DomainError::invalid(
            "q",
            "search by name, MRN, phone, email or an identifier",
        ));
    }
    Ok(Reading::Names(
        words.into_iter().take(names::MAX_WORDS).collect(),
    ))
}

fn patient_of(key: &Key) -> Option<(u8, String)> {
    let (rank, id) = key.sk.split_once('#')?;
    Some((rank.parse().ok()?, id.to_owned()))
}

/// One index entry as read: rank, patient id, and the record's signature.
type Entry = (u8, String, Option<String>);

async fn entries_of<P: Ports>(
    ports: &P,
    token: &str,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<Entry>, Option<Cursor>), DomainError> {
    let page = ports
        .table()
        .query(
            Query::partition(format!("PIDX#{token}"))
                .limit(limit)
                .after(cursor),
        )
        .await?;
    Ok((
        page.items
            .iter()
            .filter_map(|i| {
                let (rank, id) = patient_of(&i.key()?)?;
                Some((rank, id, i.s("sig").map(str::to_owned)))
            })
            .collect(),
        page.cursor,
    ))
}

/// The candidates' records, active ones of this hospital only, in the order given.
async fn fetch<P: Ports>(
    ports: &P,
    hospital_id: &str,
    ids: &[String],
) -> Result<Vec<haven_kernel::Item>, DomainError> {
    let keys: Vec<Key> = ids.iter().map(|id| store::key(id)).collect();
    let items = ports.table().get_many(&keys).await?;
    Ok(items
        .into_iter()
        .flatten()
        .filter(|i| i.s("hospital_id") == Some(hospital_id) && i.s("status") == Some("active"))
        .collect())
}

/// Whether a record's listed tokens hold every one of `tokens` (whole or prefix).
fn lists_all(item: &haven_kernel::Item, tokens: &[String]) -> bool {
    let listed: HashSet<String> = store::listed_entries(item)
        .into_iter()
        .map(|e: IndexEntry| e.token)
        .collect();
    tokens.iter().all(|t| listed.contains(t))
}

/// Searches the records of the hospital the caller covers.
pub async fn search<P: Ports>(
    ports: &P,
    staff: &Staff,
    hospital_id: Option<&str>,
    q: &str,
    limit: u32,
    cursor: Option<Cursor>,
    purpose: Purpose,
) -> Result<SearchPage, DomainError> {
    let hospital_id = staff.hospital_to_read(hospital_id)?;
    let view = staff.view_of(&hospital_id)?;
    let reading = read_query(q)?;
    let Some(index) = blind_index::load_existing(ports).await? else {
        // Nothing was ever registered here.
        return Ok(SearchPage {
            query_kind: reading.kind(),
            results: Vec::new(),
            next_cursor: None,
        });
    };
    let (kind_name, found, next) = match reading {
        Reading::Exact(kind_name, terms) => {
            let mut ids: Vec<String> = Vec::new();
            for (kind, value) in terms {
                let token = index.token(&hospital_id, kind, &value);
                let (entries, _) = entries_of(ports, &token, limit, None).await?;
                for (_, id, _) in entries {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
            ids.truncate(limit as usize);
            let items = fetch(ports, &hospital_id, &ids).await?;
            let opened = registry::open_all(ports, items).await?;
            let found: Vec<(Match, Opened)> =
                opened.into_iter().map(|o| (Match::Exact, o)).collect();
            (kind_name, found, None)
        }
        Reading::Names(words) => {
            let first_page = cursor.is_none();
            let (mut found, next) =
                by_names(ports, &index, &hospital_id, &words, limit, cursor, false).await?;
            if first_page && next.is_none() && found.len() < limit as usize {
                let (more, _) =
                    by_names(ports, &index, &hospital_id, &words, limit, None, true).await?;
                for (m, o) in more {
                    if found.len() < limit as usize && !found.iter().any(|(_, f)| f.id == o.id) {
                        found.push((m, o));
                    }
                }
            }
            ("name", found, next)
        }
    };
    let touched: Vec<(&str, &str)> = found
        .iter()
        .map(|(_, o)| (o.id.as_str(), o.hospital_id()))
        .collect();
    registry::audit_access(ports, staff, "patient.found", purpose, &touched).await?;
    Ok(SearchPage {
        query_kind: kind_name,
        results: found
            .iter()
            .map(|(m, o)| Found {
                matched: *m,
                patient: o.view(view),
            })
            .collect(),
        next_cursor: next.map(|c| c.as_str().to_owned()),
    })
}

/// Candidates read per page of the driving word's partition.
const CANDIDATE_PAGE: u32 = 100;
/// Candidates read at most for one page of results: a rare combination of common words
/// answers with what it found and a cursor, in bounded time.
const CANDIDATE_BUDGET: usize = 1_000;
/// The (rank, patient id) a cursor of `token`'s partition points after, if it is one.
fn position_of(cursor: &Cursor, token: &str) -> Option<(u8, String)> {
    let key = cursor.key_attributes().ok()?.key()?;
    if key.pk != format!("PIDX#{token}") {
        return None;
    }
    patient_of(&key)
}

/// Name search: exact words, or (`tolerant`) the longest word's neighbour swaps.
async fn by_names<P: Ports>(
    ports: &P,
    index: &BlindIndex,
    hospital_id: &str,
    words: &[String],
    limit: u32,
    cursor: Option<Cursor>,
    tolerant: bool,
) -> Result<(Vec<(Match, Opened)>, Option<Cursor>), DomainError> {
    let word_tokens: Vec<String> = words
        .iter()
        .map(|w| index.token(hospital_id, kind::NAME, &names::query_term(w)))
        .collect();
    // The driving word: the one a cursor came from, else the longest (the most selective).
    let longest = cursor
        .as_ref()
        .and_then(|c| word_tokens.iter().position(|t| position_of(c, t).is_some()))
        .unwrap_or_else(|| {
            words
                .iter()
                .enumerate()
                .max_by_key(|(_, w)| w.chars().count())
                .map_or(0, |(i, _)| i)
        });
    let drivers: Vec<String> = if tolerant {
        names::transpositions(&words[longest])
    } else {
        vec![names::query_term(&words[longest])]
    };
    // The other words must each be listed on the record (as typed, unless tolerant: then the
    // opened record is the judge).
    let others: Vec<String> = word_tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != longest)
        .map(|(_, t)| t.clone())
        .collect();
    let want = limit as usize;
    let mut found: Vec<(Match, Opened)> = Vec::new();
    let mut next = None;
    for driver in drivers {
        let token = index.token(hospital_id, kind::NAME, &driver);
        let mut after = cursor.clone();
        let mut scanned = 0;
        loop {
            // One word needs no more candidates than results (a few are inactive); several
            // read ahead, and the signatures on the entries weed out the rest unread.
            let page = if others.is_empty() && !tolerant {
                (want as u32 + 5).min(CANDIDATE_PAGE)
            } else {
                CANDIDATE_PAGE
            };
            let (entries, page_end) = entries_of(ports, &token, page, after.clone()).await?;
            scanned += entries.len();
            let entries: Vec<Entry> = entries
                .into_iter()
                .map(|(rank, id, sig)| {
                    let keep = tolerant
                        || sig
                            .as_deref()
                            .is_none_or(|sig| others.iter().all(|t| store::signature_has(sig, t)));
                    (rank, if keep { id } else { String::new() }, sig)
                })
                .collect();
            let ids: Vec<String> = entries
                .iter()
                .filter(|(_, id, _)| !id.is_empty())
                .map(|(_, id, _)| id.clone())
                .collect();
            let listed: Vec<_> = fetch(ports, hospital_id, &ids)
                .await?
                .into_iter()
                .filter(|i| tolerant || lists_all(i, &others))
                .collect();
            // Candidates in index order; each chunk opened only as far as the page needs,
            // so that stopping at a full page leaves a cursor at the last entry taken.
            let candidates: Vec<(u8, &haven_kernel::Item)> = entries
                .iter()
                .filter(|(_, id, _)| !id.is_empty())
                .filter_map(|(rank, id, _)| {
                    listed
                        .iter()
                        .find(|i| i.s("pk").and_then(|pk| pk.strip_prefix("PATIENT#")) == Some(id))
                        .map(|i| (*rank, i))
                })
                .collect();
            let mut stopped_at: Option<(u8, String)> = None;
            let mut rest = candidates.as_slice();
            while found.len() < want && !rest.is_empty() {
                let take = (want - found.len()).min(rest.len());
                let (chunk, tail) = rest.split_at(take);
                rest = tail;
                let opened =
                    registry::open_all(ports, chunk.iter().map(|(_, i)| (*i).clone()).collect())
                        .await?;
                for ((rank, _), o) in chunk.iter().zip(opened) {
                    stopped_at = Some((*rank, o.id.clone()));
                    let name_words = o.sealed.details.name_words();
                    if o.status() != Status::Active
                        || !words.iter().all(|w| names::finds(w, &name_words, tolerant))
                        || found.iter().any(|(_, f)| f.id == o.id)
                    {
                        continue;
                    }
                    let matched = if tolerant {
                        Match::Approximate
                    } else if *rank == store::EXACT {
                        Match::Exact
                    } else {
                        Match::Prefix
                    };
                    found.push((matched, o));
                }
            }
            let full = found.len() >= want;
            let resume = match &stopped_at {
                // Stopped before the page's end: resume after the last entry taken.
                Some((rank, last)) if full && !rest.is_empty() => {
                    Some(entry_cursor(&token, *rank, last))
                }
                Some((rank, last))
                    if full && entries.last().is_some_and(|(_, id, _)| id != last) =>
                {
                    Some(entry_cursor(&token, *rank, last))
                }
                _ => page_end.clone(),
            };
            if full || resume.is_none() || scanned >= CANDIDATE_BUDGET {
                if !tolerant {
                    next = resume;
                }
                break;
            }
            after = resume;
        }
        if found.len() >= want {
            break;
        }
    }
    Ok((found, next))
}

/// The cursor that resumes a partition's query after one index entry.
fn entry_cursor(token: &str, rank: u8, patient_id: &str) -> Cursor {
    let entry = store::IndexEntry {
        rank,
        token: token.to_owned(),
    };
    let key = store::index_key(&entry, patient_id);
    Cursor::from_key_attributes(&haven_kernel::Item::new(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_read_for_what_it_is() {
        let mrn = Mrn::new("KNH", 123).to_string();
        assert_eq!(
            read_query(&mrn.to_lowercase()),
            Ok(Reading::Exact("mrn", vec![(kind::MRN, mrn)]))
        );
        let typo = read_query("KNH-000123-7").expect_err("typo");
        assert_eq!(typo.field(), Some("q"));
        assert!(typo.to_string().contains("typo"));
        assert_eq!(
            read_query("0712 345 678"),
            Ok(Reading::Exact(
                "phone",
                vec![
                    (kind::PHONE, "+254712345678".into()),
                    (kind::IDENTIFIER, "0712345678".into())
                ]
            ))
        );
        assert_eq!(
            read_query("12345678"),
            Ok(Reading::Exact(
                "identifier",
                vec![(kind::IDENTIFIER, "12345678".into())]
            ))
        );
        assert_eq!(
            read_query("ak0123456"),
            Ok(Reading::Exact(
                "identifier",
                vec![(kind::IDENTIFIER, "AK0123456".into())]
            ))
        );
        assert_eq!(
            read_query(" Mary@Example.com"),
            Ok(Reading::Exact(
                "email",
                vec![(kind::EMAIL, "mary@example.com".into())]
            ))
        );
        assert_eq!(
            read_query("wanjirũ kam"),
            Ok(Reading::Names(vec!["wanjiru".into(), "kam".into()]))
        );
        for bad in ["", "  ", "- -", &"a".repeat(101), "mary@"] {
            assert_eq!(read_query(bad).expect_err(bad).field(), Some("q"), "{bad}");
        }
    }
}
