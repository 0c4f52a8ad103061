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

async fn entries_of<P: Ports>(
    ports: &P,
    token: &str,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<(u8, String)>, Option<Cursor>), DomainError> {
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
            .filter_map(|i| i.key())
            .filter_map(|k| patient_of(&k))
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
                for (_, id) in entries {
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
    let longest = words
        .iter()
        .enumerate()
        .max_by_key(|(_, w)| w.chars().count())
        .map(|(i, _)| i)
        .unwrap_or(0);
    let drivers: Vec<String> = if tolerant {
        names::transpositions(&words[longest])
    } else {
        vec![names::query_term(&words[longest])]
    };
    // The other words must each be listed on the record (as typed, unless tolerant: then the
    // opened record is the judge).
    let others: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != longest)
        .map(|(_, w)| index.token(hospital_id, kind::NAME, &names::query_term(w)))
        .collect();
    let mut found: Vec<(Match, Opened)> = Vec::new();
    let mut next = None;
    for driver in drivers {
        let token = index.token(hospital_id, kind::NAME, &driver);
        // Read ahead of the page: some candidates fall to the other words.
        let (entries, after) = entries_of(ports, &token, limit, cursor.clone()).await?;
        if !tolerant {
            next = after;
        }
        let ids: Vec<String> = entries.iter().map(|(_, id)| id.clone()).collect();
        let items = fetch(ports, hospital_id, &ids).await?;
        let items: Vec<_> = items
            .into_iter()
            .filter(|i| tolerant || lists_all(i, &others))
            .collect();
        for opened in registry::open_all(ports, items).await? {
            if opened.status() != Status::Active {
                continue;
            }
            let name_words = opened.sealed.details.name_words();
            if !words.iter().all(|w| names::finds(w, &name_words, tolerant)) {
                continue;
            }
            let rank = entries
                .iter()
                .find(|(_, id)| *id == opened.id)
                .map(|(r, _)| *r)
                .unwrap_or(store::PREFIX);
            let matched = if tolerant {
                Match::Approximate
            } else if rank == store::EXACT {
                Match::Exact
            } else {
                Match::Prefix
            };
            if !found.iter().any(|(_, f)| f.id == opened.id) {
                found.push((matched, opened));
            }
        }
    }
    Ok((found, next))
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
