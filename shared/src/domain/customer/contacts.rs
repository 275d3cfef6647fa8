//! Contact matching across the two systems: by e-mail address (case-insensitive, any of
//! Autotask's three address fields), else — for a contact with no address at all — by name.
//! One-to-one: a contact on either side is matched at most once.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::normalize::normalize_email;

/// What matching needs of a contact on either side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactRef<Id> {
    pub id: Id,
    pub emails: Vec<String>,
    pub first_name: String,
    pub last_name: String,
    pub active: bool,
}

impl<Id> ContactRef<Id> {
    fn normalized_emails(&self) -> BTreeSet<String> {
        self.emails.iter().filter_map(|e| normalize_email(e)).collect()
    }

    fn name_key(&self) -> Option<String> {
        let k = format!("{} {}", self.first_name.trim(), self.last_name.trim()).to_lowercase();
        let k = k.split_whitespace().collect::<Vec<_>>().join(" ");
        (!k.is_empty()).then_some(k)
    }
}

/// Why two contacts were paired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum MatchedBy {
    Email {
        email: String,
    },
    /// Neither e-mail side helps: the ChannelOnline contact has no address; same first and last name.
    Name,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactPair<C, A> {
    pub col: C,
    pub at: A,
    pub by: MatchedBy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactMatching<C, A> {
    pub matched: Vec<ContactPair<C, A>>,
    pub col_unmatched: Vec<C>,
    pub at_unmatched: Vec<A>,
}

/// Pairs `col` contacts with `at` contacts. Among several Autotask contacts with the same
/// address (duplicates in Autotask), the active one with the lowest id wins, deterministically.
pub fn match_contacts<C: Clone, A: Clone + Ord>(col: &[ContactRef<C>], at: &[ContactRef<A>]) -> ContactMatching<C, A> {
    let mut order: Vec<&ContactRef<A>> = at.iter().collect();
    order.sort_by(|a, b| b.active.cmp(&a.active).then_with(|| a.id.cmp(&b.id)));
    let mut by_email: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, c) in order.iter().enumerate() {
        for e in c.normalized_emails() {
            by_email.entry(e).or_default().push(i);
        }
        if let Some(k) = c.name_key() {
            by_name.entry(k).or_default().push(i);
        }
    }
    let mut used = vec![false; order.len()];
    let mut matched = Vec::new();
    let mut col_unmatched = Vec::new();
    for c in col {
        let emails = c.normalized_emails();
        let found = if emails.is_empty() {
            c.name_key()
                .and_then(|k| by_name.get(&k))
                .and_then(|ids| ids.iter().copied().find(|&i| !used[i]))
                .map(|i| (i, MatchedBy::Name))
        } else {
            emails.iter().find_map(|e| {
                let i = by_email.get(e)?.iter().copied().find(|&i| !used[i])?;
                Some((i, MatchedBy::Email { email: e.clone() }))
            })
        };
        match found {
            Some((i, by)) => {
                used[i] = true;
                matched.push(ContactPair {
                    col: c.id.clone(),
                    at: order[i].id.clone(),
                    by,
                });
            }
            None => col_unmatched.push(c.id.clone()),
        }
    }
    let mut at_unmatched: Vec<A> = order
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(c, _)| c.id.clone())
        .collect();
    at_unmatched.sort();
    ContactMatching {
        matched,
        col_unmatched,
        at_unmatched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c<Id>(id: Id, email: &str, first: &str, last: &str) -> ContactRef<Id> {
        ContactRef {
            id,
            emails: if email.is_empty() { vec![] } else { vec![email.into()] },
            first_name: first.into(),
            last_name: last.into(),
            active: true,
        }
    }

    #[test]
    fn matches_by_email_ignoring_case_and_any_of_the_three_fields() {
        let col = vec![
            c("c1", "Ann@Acme.com", "Ann", "Lee"),
            c("c2", "bob@acme.com", "Bob", "Ray"),
        ];
        let mut at2 = c(20i64, "robert@acme.com", "Robert", "Ray");
        at2.emails.push("BOB@acme.com".into());
        let at = vec![
            c(10i64, "ann@acme.COM", "Anne", "Lee"),
            at2,
            c(30, "zed@acme.com", "Zed", "Z"),
        ];
        let m = match_contacts(&col, &at);
        assert_eq!(m.matched.len(), 2);
        assert_eq!((m.matched[0].col, m.matched[0].at), ("c1", 10));
        assert_eq!(
            m.matched[0].by,
            MatchedBy::Email {
                email: "ann@acme.com".into()
            }
        );
        assert_eq!((m.matched[1].col, m.matched[1].at), ("c2", 20));
        assert!(m.col_unmatched.is_empty());
        assert_eq!(m.at_unmatched, vec![30]);
    }

    #[test]
    fn duplicates_in_autotask_pick_the_active_lowest_id_once() {
        let col = vec![
            c("c1", "ann@acme.com", "Ann", "Lee"),
            c("c2", "ann@acme.com", "Ann", "Lee"),
        ];
        let mut inactive = c(5i64, "ann@acme.com", "Ann", "Lee");
        inactive.active = false;
        let at = vec![
            c(9i64, "ann@acme.com", "Ann", "Lee"),
            inactive,
            c(7, "ann@acme.com", "Ann", "Lee"),
        ];
        let m = match_contacts(&col, &at);
        assert_eq!(m.matched.iter().map(|p| p.at).collect::<Vec<_>>(), vec![7, 9]);
        assert_eq!(m.at_unmatched, vec![5]);
    }

    #[test]
    fn contacts_without_email_match_by_full_name_only() {
        let col = vec![c("c1", "", "Ann", "Lee"), c("c2", "", "Bob", "Ray")];
        let at = vec![c(1i64, "", "ann", " Lee"), c(2, "bob@x.com", "Bob", "Jones")];
        let m = match_contacts(&col, &at);
        assert_eq!(
            m.matched,
            vec![ContactPair {
                col: "c1",
                at: 1,
                by: MatchedBy::Name
            }]
        );
        assert_eq!(m.col_unmatched, vec!["c2"]);
    }

    #[test]
    fn a_contact_with_an_email_is_never_matched_by_name() {
        let col = vec![c("c1", "ann@new.com", "Ann", "Lee")];
        let at = vec![c(1i64, "ann@old.com", "Ann", "Lee")];
        let m = match_contacts(&col, &at);
        assert!(m.matched.is_empty());
    }

    /// Property: no side is ever used twice, and every id lands in exactly one bucket.
    #[test]
    fn matching_is_one_to_one_and_complete() {
        let mut rng = fastrand::Rng::with_seed(3);
        let emails = ["a@x.com", "A@x.com", "b@x.com", "c@y.com", ""];
        for _ in 0..200 {
            let col: Vec<_> = (0..rng.usize(0..8))
                .map(|i| c(i, emails[rng.usize(..emails.len())], "F", ["A", "B"][rng.usize(..2)]))
                .collect();
            let at: Vec<_> = (0..rng.usize(0..8))
                .map(|i| {
                    c(
                        i as i64,
                        emails[rng.usize(..emails.len())],
                        "F",
                        ["A", "B"][rng.usize(..2)],
                    )
                })
                .collect();
            let m = match_contacts(&col, &at);
            let col_used: BTreeSet<_> = m.matched.iter().map(|p| p.col).collect();
            let at_used: BTreeSet<_> = m.matched.iter().map(|p| p.at).collect();
            assert_eq!(col_used.len(), m.matched.len());
            assert_eq!(at_used.len(), m.matched.len());
            assert_eq!(m.matched.len() + m.col_unmatched.len(), col.len());
            assert_eq!(m.matched.len() + m.at_unmatched.len(), at.len());
        }
    }
}
