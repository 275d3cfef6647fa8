//! Company matching for "Map Customers" and for export's look-up of an unmapped customer:
//! evidence (same normalised name, same phone, customer number ↔ `companyNumber`, a shared
//! company e-mail domain) combines into a confidence from 0 to 100 with the reasons, and a
//! one-to-one assignment proposes pairs that never share a side and skip what is mapped.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::normalize::{company_email_domain, name_key, name_words, number_key, phone_key, word_set_similarity};

/// What matching reads of a company on either side (raw values; [`MatchKeys`] normalises them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyProfile {
    pub name: String,
    pub phones: Vec<String>,
    /// ChannelOnline customer number, or Autotask `companyNumber`.
    pub number: Option<String>,
    /// E-mail addresses of the company's contacts (public providers are ignored).
    pub emails: Vec<String>,
}

/// The normalised keys of one company.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchKeys {
    pub display_name: String,
    pub name_key: Option<String>,
    pub words: BTreeSet<String>,
    pub phones: BTreeSet<String>,
    pub number: Option<String>,
    pub domains: BTreeSet<String>,
}

impl MatchKeys {
    pub fn of(p: &CompanyProfile) -> Self {
        Self {
            display_name: p.name.trim().to_owned(),
            name_key: name_key(&p.name),
            words: name_words(&p.name).into_iter().collect(),
            phones: p.phones.iter().filter_map(|x| phone_key(x)).collect(),
            number: p.number.as_deref().and_then(number_key),
            domains: p.emails.iter().filter_map(|e| company_email_domain(e)).collect(),
        }
    }
}

/// One piece of evidence that two companies are the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum MatchReason {
    SameName { name: String },
    SimilarName { similarity_pct: u8 },
    SamePhone { phone: String },
    NumberMatchesCompanyNumber { number: String },
    SharedEmailDomain { domain: String },
}

impl MatchReason {
    /// The weight of the evidence alone, in `[0, 1)`.
    fn weight(&self) -> f64 {
        match self {
            MatchReason::NumberMatchesCompanyNumber { .. } => 0.90,
            MatchReason::SameName { .. } => 0.85,
            MatchReason::SamePhone { .. } => 0.60,
            MatchReason::SharedEmailDomain { .. } => 0.60,
            MatchReason::SimilarName { similarity_pct } => 0.5 * f64::from(*similarity_pct) / 100.0,
        }
    }

    /// Words for the answer shown to the user.
    pub fn describe(&self) -> String {
        match self {
            MatchReason::SameName { name } => format!("same name ({name})"),
            MatchReason::SimilarName { similarity_pct } => format!("similar name ({similarity_pct}% of words shared)"),
            MatchReason::SamePhone { phone } => format!("same phone ({phone})"),
            MatchReason::NumberMatchesCompanyNumber { number } => {
                format!("customer number {number} equals the Autotask company number")
            }
            MatchReason::SharedEmailDomain { domain } => format!("contacts share the e-mail domain {domain}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// 0–100: one minus the product of the evidence's doubts.
    pub confidence: u8,
    pub reasons: Vec<MatchReason>,
}

/// Names at least this similar (Jaccard over words) count as "similar".
const SIMILAR_NAME_MIN: f64 = 0.5;
/// Proposals below this confidence are not shown.
pub const PROPOSE_MIN_CONFIDENCE: u8 = 50;
/// Export links an unmapped Autotask company only at or above this confidence: a same name,
/// a matching number, or a phone plus more (a shared switchboard alone is not enough).
pub const LINK_MIN_CONFIDENCE: u8 = 80;

/// The evidence that `col` and `at` are one company, or `None` when there is none.
pub fn score(col: &MatchKeys, at: &MatchKeys) -> Option<Score> {
    let mut reasons = Vec::new();
    if let (Some(a), Some(b)) = (&col.number, &at.number)
        && a == b
    {
        reasons.push(MatchReason::NumberMatchesCompanyNumber { number: a.clone() });
    }
    match (&col.name_key, &at.name_key) {
        (Some(a), Some(b)) if a == b => reasons.push(MatchReason::SameName {
            name: at.display_name.clone(),
        }),
        _ => {
            let sim = word_set_similarity(&col.words, &at.words);
            if sim >= SIMILAR_NAME_MIN {
                reasons.push(MatchReason::SimilarName {
                    similarity_pct: (sim * 100.0).round() as u8,
                });
            }
        }
    }
    if let Some(p) = col.phones.intersection(&at.phones).next() {
        reasons.push(MatchReason::SamePhone { phone: p.clone() });
    }
    if let Some(d) = col.domains.intersection(&at.domains).next() {
        reasons.push(MatchReason::SharedEmailDomain { domain: d.clone() });
    }
    if reasons.is_empty() {
        return None;
    }
    let doubt: f64 = reasons.iter().map(|r| 1.0 - r.weight()).product();
    let confidence = ((1.0 - doubt) * 100.0).floor().clamp(0.0, 100.0) as u8;
    Some(Score { confidence, reasons })
}

/// A company of one side, with its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Side<Id> {
    pub id: Id,
    pub keys: MatchKeys,
}

impl<Id> Side<Id> {
    pub fn new(id: Id, profile: &CompanyProfile) -> Self {
        Self {
            id,
            keys: MatchKeys::of(profile),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal<C, A> {
    pub col_id: C,
    pub at_id: A,
    pub confidence: u8,
    pub reasons: Vec<MatchReason>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposals<C, A> {
    /// Best first.
    pub pairs: Vec<Proposal<C, A>>,
    pub col_unmatched: Vec<C>,
    pub at_unmatched: Vec<A>,
}

/// Blocking keys: a company is compared only with companies sharing one of them. Name words
/// shared by more than this many companies ("systems", "group") are too common to block on.
const MAX_WORD_BLOCK: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum BlockKind {
    Name,
    Word,
    Phone,
    Number,
    Domain,
}

fn block_keys(k: &MatchKeys) -> Vec<(BlockKind, &str)> {
    let mut out = Vec::new();
    out.extend(k.name_key.as_deref().map(|n| (BlockKind::Name, n)));
    out.extend(
        k.words
            .iter()
            .filter(|w| w.chars().count() >= 3)
            .map(|w| (BlockKind::Word, w.as_str())),
    );
    out.extend(k.phones.iter().map(|p| (BlockKind::Phone, p.as_str())));
    out.extend(k.number.as_deref().map(|n| (BlockKind::Number, n)));
    out.extend(k.domains.iter().map(|d| (BlockKind::Domain, d.as_str())));
    out
}

/// Every scored pair at or above `min_confidence`, skipping sides in `mapped_col`/`mapped_at`.
pub fn candidate_pairs<C: Clone + Ord, A: Clone + Ord>(
    col: &[Side<C>],
    at: &[Side<A>],
    mapped_col: &BTreeSet<C>,
    mapped_at: &BTreeSet<A>,
    min_confidence: u8,
) -> Vec<Proposal<C, A>> {
    let at: Vec<&Side<A>> = at.iter().filter(|s| !mapped_at.contains(&s.id)).collect();
    let mut index: BTreeMap<(BlockKind, &str), Vec<usize>> = BTreeMap::new();
    for (i, s) in at.iter().enumerate() {
        for key in block_keys(&s.keys) {
            index.entry(key).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for c in col.iter().filter(|s| !mapped_col.contains(&s.id)) {
        let mut seen = BTreeSet::new();
        for key in block_keys(&c.keys) {
            let Some(ids) = index.get(&key) else { continue };
            if key.0 == BlockKind::Word && ids.len() > MAX_WORD_BLOCK {
                continue;
            }
            seen.extend(ids.iter().copied());
        }
        for i in seen {
            if let Some(s) = score(&c.keys, &at[i].keys).filter(|s| s.confidence >= min_confidence) {
                out.push(Proposal {
                    col_id: c.id.clone(),
                    at_id: at[i].id.clone(),
                    confidence: s.confidence,
                    reasons: s.reasons,
                });
            }
        }
    }
    out
}

/// One-to-one assignment: strongest pairs first (ties broken by more reasons, then ids), each
/// side used at most once; whatever is left is listed as unmatched.
pub fn assign<C: Clone + Ord, A: Clone + Ord>(
    col: &[Side<C>],
    at: &[Side<A>],
    mapped_col: &BTreeSet<C>,
    mapped_at: &BTreeSet<A>,
    min_confidence: u8,
) -> Proposals<C, A> {
    let mut candidates = candidate_pairs(col, at, mapped_col, mapped_at, min_confidence);
    candidates.sort_by(|a, b| {
        b.confidence
            .cmp(&a.confidence)
            .then_with(|| b.reasons.len().cmp(&a.reasons.len()))
            .then_with(|| a.col_id.cmp(&b.col_id))
            .then_with(|| a.at_id.cmp(&b.at_id))
    });
    let (mut used_col, mut used_at) = (BTreeSet::new(), BTreeSet::new());
    let mut pairs = Vec::new();
    for p in candidates {
        if used_col.contains(&p.col_id) || used_at.contains(&p.at_id) {
            continue;
        }
        used_col.insert(p.col_id.clone());
        used_at.insert(p.at_id.clone());
        pairs.push(p);
    }
    let col_unmatched = col
        .iter()
        .map(|s| &s.id)
        .filter(|id| !mapped_col.contains(*id) && !used_col.contains(*id))
        .cloned()
        .collect();
    let at_unmatched = at
        .iter()
        .map(|s| &s.id)
        .filter(|id| !mapped_at.contains(*id) && !used_at.contains(*id))
        .cloned()
        .collect();
    Proposals {
        pairs,
        col_unmatched,
        at_unmatched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, phone: &str, number: &str, email: &str) -> CompanyProfile {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        CompanyProfile {
            name: name.into(),
            phones: opt(phone).into_iter().collect(),
            number: opt(number),
            emails: opt(email).into_iter().collect(),
        }
    }

    fn keys(name: &str, phone: &str, number: &str, email: &str) -> MatchKeys {
        MatchKeys::of(&profile(name, phone, number, email))
    }

    #[test]
    fn each_kind_of_evidence_is_named() {
        let s = score(
            &keys("Acme, Inc.", "(555) 123-4567", "c-1", "ann@acme.com"),
            &keys("ACME LLC", "555.123.4567", "C-1", "bob@Acme.com"),
        )
        .unwrap();
        assert_eq!(s.reasons.len(), 4);
        assert!(s.confidence >= 99, "{s:?}");
        assert!(s.reasons.contains(&MatchReason::SamePhone {
            phone: "5551234567".into()
        }));
        assert!(s.reasons.contains(&MatchReason::SharedEmailDomain {
            domain: "acme.com".into()
        }));
    }

    #[test]
    fn more_evidence_never_lowers_confidence() {
        let base = keys("Acme", "", "", "");
        let name_only = score(&base, &keys("Acme Inc", "", "", "")).unwrap().confidence;
        let name_phone = score(
            &keys("Acme", "555-123-4567", "", ""),
            &keys("Acme Inc", "5551234567", "", ""),
        )
        .unwrap()
        .confidence;
        assert!(name_phone > name_only);
        assert!(name_only >= LINK_MIN_CONFIDENCE);
    }

    #[test]
    fn a_shared_phone_alone_does_not_reach_the_link_threshold() {
        let s = score(
            &keys("Acme", "555-123-4567", "", ""),
            &keys("Globex", "555-123-4567", "", ""),
        )
        .unwrap();
        assert!(
            s.confidence >= PROPOSE_MIN_CONFIDENCE && s.confidence < LINK_MIN_CONFIDENCE,
            "{s:?}"
        );
    }

    #[test]
    fn public_mail_domains_and_placeholder_phones_are_no_evidence() {
        assert_eq!(
            score(
                &keys("Acme", "555-555-5555", "", "a@gmail.com"),
                &keys("Globex", "555-555-5555", "", "b@gmail.com")
            ),
            None
        );
    }

    #[test]
    fn similar_but_different_names_score_below_same_names() {
        let s = score(
            &keys("Acme Systems", "", "", ""),
            &keys("Acme Systems Group", "", "", ""),
        )
        .unwrap();
        assert!(matches!(
            s.reasons[..],
            [MatchReason::SimilarName { similarity_pct: 67 }]
        ));
        assert!(s.confidence < PROPOSE_MIN_CONFIDENCE);
    }

    #[test]
    fn assignment_skips_mapped_sides_and_lists_the_rest() {
        let col = vec![
            Side::new("C1", &profile("Acme", "555-100-0001", "", "")),
            Side::new("C2", &profile("Globex", "555-100-0002", "", "")),
            Side::new("C3", &profile("Initech", "", "", "")),
        ];
        let at = vec![
            Side::new(1i64, &profile("Acme Inc", "555-100-0001", "", "")),
            Side::new(2, &profile("Globex Corp", "", "", "")),
            Side::new(3, &profile("Umbrella", "", "", "")),
        ];
        let mapped_at = BTreeSet::from([2i64]);
        let p = assign(&col, &at, &BTreeSet::new(), &mapped_at, PROPOSE_MIN_CONFIDENCE);
        assert_eq!(p.pairs.len(), 1);
        assert_eq!((p.pairs[0].col_id, p.pairs[0].at_id), ("C1", 1));
        assert_eq!(p.col_unmatched, vec!["C2", "C3"]);
        assert_eq!(p.at_unmatched, vec![3]);
    }

    #[test]
    fn the_stronger_pair_wins_a_contested_side() {
        // C1 and C2 both look like AT 1; C2 also shares the number, so C2 gets it.
        let col = vec![
            Side::new("C1", &profile("Acme", "", "", "")),
            Side::new("C2", &profile("Acme", "", "N-9", "")),
        ];
        let at = vec![Side::new(1i64, &profile("Acme", "", "N-9", ""))];
        let p = assign(&col, &at, &BTreeSet::new(), &BTreeSet::new(), PROPOSE_MIN_CONFIDENCE);
        assert_eq!(p.pairs.len(), 1);
        assert_eq!(p.pairs[0].col_id, "C2");
        assert_eq!(p.col_unmatched, vec!["C1"]);
    }

    /// Property: over random data, no proposal shares a side with another or touches a mapped
    /// side, and every unmapped id is either proposed or listed as unmatched.
    #[test]
    fn assignment_is_one_to_one_over_random_data() {
        let mut rng = fastrand::Rng::with_seed(5);
        let names = [
            "Acme",
            "Acme Inc",
            "Globex",
            "Initech Systems",
            "Initech",
            "Umbrella Group",
            "Hooli",
        ];
        let phones = ["", "555-100-0001", "555-100-0002", "555-555-5555"];
        let emails = ["", "a@acme.com", "b@globex.com", "c@gmail.com"];
        let random = |rng: &mut fastrand::Rng| {
            profile(
                names[rng.usize(..names.len())],
                phones[rng.usize(..phones.len())],
                ["", "N1", "N2"][rng.usize(..3)],
                emails[rng.usize(..emails.len())],
            )
        };
        for _ in 0..100 {
            let col: Vec<_> = (0..rng.usize(0..12)).map(|i| Side::new(i, &random(&mut rng))).collect();
            let at: Vec<_> = (0..rng.usize(0..12))
                .map(|i| Side::new(i as i64 + 100, &random(&mut rng)))
                .collect();
            let mapped_col: BTreeSet<usize> = col.iter().map(|s| s.id).filter(|_| rng.u8(..) < 40).collect();
            let mapped_at: BTreeSet<i64> = at.iter().map(|s| s.id).filter(|_| rng.u8(..) < 40).collect();
            let p = assign(&col, &at, &mapped_col, &mapped_at, PROPOSE_MIN_CONFIDENCE);
            let cols: BTreeSet<_> = p.pairs.iter().map(|x| x.col_id).collect();
            let ats: BTreeSet<_> = p.pairs.iter().map(|x| x.at_id).collect();
            assert_eq!(cols.len(), p.pairs.len());
            assert_eq!(ats.len(), p.pairs.len());
            assert!(cols.is_disjoint(&mapped_col) && ats.is_disjoint(&mapped_at));
            assert_eq!(p.pairs.len() + p.col_unmatched.len() + mapped_col.len(), col.len());
            assert_eq!(p.pairs.len() + p.at_unmatched.len() + mapped_at.len(), at.len());
            assert!(p.pairs.windows(2).all(|w| w[0].confidence >= w[1].confidence));
        }
    }

    /// GIVEN 300 customers and 300 companies where 200 are the same companies written
    /// differently (case, punctuation, legal form, phone format, contact domain) and the rest
    /// are unrelated, WHEN assigning, THEN every true pair is proposed and nothing else is.
    #[test]
    fn true_pairs_are_found_among_many() {
        let forms = ["{} Inc", "{}, LLC", "THE {} COMPANY", "{} Ltd.", "{}"];
        let mut col = Vec::new();
        let mut at = Vec::new();
        for i in 0..300 {
            let base = format!("Company{i} Widgets");
            let phone = format!("555-{:03}-{:04}", i / 10, 1000 + i);
            col.push(Side::new(
                format!("C{i}"),
                &profile(&base, &phone, "", &format!("x@company{i}.com")),
            ));
            if i < 200 {
                let name = forms[i % forms.len()].replace("{}", &base.to_uppercase());
                let at_phone = format!("({}) {}", &phone[..3], &phone[4..]);
                at.push(Side::new(
                    i as i64,
                    &profile(&name, &at_phone, "", &format!("y@Company{i}.com")),
                ));
            } else {
                at.push(Side::new(i as i64, &profile(&format!("Other{i} Holdings"), "", "", "")));
            }
        }
        let p = assign(&col, &at, &BTreeSet::new(), &BTreeSet::new(), PROPOSE_MIN_CONFIDENCE);
        assert_eq!(p.pairs.len(), 200);
        for pair in &p.pairs {
            assert_eq!(pair.col_id, format!("C{}", pair.at_id));
            assert!(pair.confidence >= 90, "{pair:?}");
        }
    }
}
