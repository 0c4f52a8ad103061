//! Names as search sees them: lower case, accents dropped (`Wanjirũ` → `wanjiru`,
//! `Zoë` → `zoe`), split into words at spaces and hyphens, apostrophes dropped (`O'Brien` →
//! `obrien`). A word is found by itself or by any prefix of at least [`MIN_PREFIX`] letters;
//! a query word of four or more letters also finds names with two neighbouring letters
//! swapped (`wnajiku` finds `Wanjiku`).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The shortest prefix indexed; shorter query words match whole names only.
pub const MIN_PREFIX: usize = 3;
/// The longest prefix indexed; a longer query word is looked up by its first this many
/// letters and checked against the opened record.
pub const MAX_PREFIX: usize = 8;
/// Name words indexed per person (given, family and other names together).
pub const MAX_WORDS: usize = 5;

/// The words of a name, normalised.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '-' || c == ',' || c == '.')
        .map(fold)
        .filter(|w| !w.is_empty())
        .collect()
}

/// One word: decomposed, combining marks removed, lower case, letters only.
fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphabetic())
        .collect()
}

fn take(word: &str, n: usize) -> String {
    word.chars().take(n).collect()
}

/// How well an indexed term matches: the whole word, or a prefix of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Exact,
    Prefix,
}

/// The terms a person's name words are indexed under, each once with its best rank.
pub fn index_terms(name_words: &[String]) -> Vec<(String, Rank)> {
    let mut out: Vec<(String, Rank)> = Vec::new();
    let mut add = |term: String, rank: Rank| match out.iter_mut().find(|(t, _)| *t == term) {
        Some(existing) => existing.1 = existing.1.min(rank),
        None => out.push((term, rank)),
    };
    for word in name_words.iter().take(MAX_WORDS) {
        let len = word.chars().count();
        add(word.clone(), Rank::Exact);
        for n in MIN_PREFIX..len.min(MAX_PREFIX + 1) {
            add(take(word, n), Rank::Prefix);
        }
    }
    out
}

/// The term a query word is looked up by.
pub fn query_term(word: &str) -> String {
    take(word, MAX_PREFIX)
}

/// The query word with two neighbouring letters swapped, the first letter kept (people
/// rarely mistype it): the variants a transposition-tolerant search also looks up.
pub fn transpositions(word: &str) -> Vec<String> {
    let letters: Vec<char> = word.chars().take(MAX_PREFIX).collect();
    if letters.len() < 4 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in 1..letters.len() - 1 {
        if letters[i] == letters[i + 1] {
            continue;
        }
        let mut swapped = letters.clone();
        swapped.swap(i, i + 1);
        let s: String = swapped.into_iter().collect();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Whether a query word finds one of a person's name words: as a prefix, or as a prefix with
/// one neighbouring swap when `tolerant`.
pub fn finds(query_word: &str, name_words: &[String], tolerant: bool) -> bool {
    let by_prefix = |q: &str| name_words.iter().any(|w| w.starts_with(q));
    if by_prefix(query_word) {
        return true;
    }
    if !tolerant || query_word.chars().count() < 4 {
        return false;
    }
    let letters: Vec<char> = query_word.chars().collect();
    (1..letters.len() - 1).any(|i| {
        let mut swapped = letters.clone();
        swapped.swap(i, i + 1);
        by_prefix(&swapped.into_iter().collect::<String>())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_accents_and_punctuation_fold_away() {
        assert_eq!(
            words("  Wanjirũ  Njoroge-Kamau "),
            ["wanjiru", "njoroge", "kamau"]
        );
        assert_eq!(words("ZOË O'Brien"), ["zoe", "obrien"]);
        assert_eq!(words("Chérie-Anne Müller"), ["cherie", "anne", "muller"]);
        assert_eq!(words("Otieno, Jr."), ["otieno", "jr"]);
        assert!(words(" - ' ").is_empty());
    }

    #[test]
    fn a_word_is_indexed_whole_and_by_its_prefixes() {
        let terms = index_terms(&words("Wanjiku Mwangi"));
        let has = |t: &str, r: Rank| terms.contains(&(t.to_owned(), r));
        assert!(has("wanjiku", Rank::Exact));
        assert!(has("wan", Rank::Prefix));
        assert!(has("wanjik", Rank::Prefix));
        assert!(!terms.iter().any(|(t, _)| t == "wa"));
        assert!(has("mwangi", Rank::Exact));
        // A long word's prefixes stop at MAX_PREFIX letters.
        let long = index_terms(&words("Nyakwamba"));
        assert!(long.contains(&("nyakwamb".into(), Rank::Prefix)));
        assert_eq!(long.len(), 1 + (MAX_PREFIX - MIN_PREFIX + 1));
        // One term once, with its best rank: "ann" is a whole name and a prefix of "anne".
        let both = index_terms(&words("Ann Anne"));
        assert_eq!(both.iter().filter(|(t, _)| t == "ann").count(), 1);
        assert!(both.contains(&("ann".into(), Rank::Exact)));
        // Short names are still found whole.
        assert!(index_terms(&words("Wu")).contains(&("wu".into(), Rank::Exact)));
    }

    #[test]
    fn neighbouring_swaps_are_tolerated() {
        let names = words("Wanjiku Achieng");
        assert!(finds("wanj", &names, false));
        assert!(!finds("wnajiku", &names, false));
        assert!(finds("wnajiku", &names, true));
        assert!(finds("acheing", &names, true));
        assert!(!finds("wxnjiku", &names, true));
        assert!(transpositions("wnaj").contains(&"wanj".to_owned()));
        assert!(transpositions("wnajiku").contains(&"wanjiku".to_owned()));
        assert!(transpositions("abc").is_empty());
    }
}
