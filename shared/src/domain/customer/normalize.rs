//! Normalised keys for comparing companies across the two systems: names without case,
//! punctuation or legal suffixes, phones as their significant digits, and the company part of
//! an e-mail address (public mail providers say nothing about the company, so they yield none).

use std::collections::BTreeSet;

/// Legal-form words dropped from the end of a name ("Acme, Inc." ≡ "ACME Incorporated").
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "llp",
    "lp",
    "ltd",
    "limited",
    "corp",
    "corporation",
    "co",
    "company",
    "gmbh",
    "ag",
    "kg",
    "plc",
    "pty",
    "pte",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "ab",
    "oy",
    "as",
    "aps",
    "kk",
    "pc",
    "pllc",
    "lc",
    "se",
    "ug",
    "eg",
];

/// Words that carry no identity at either end of a name ("The Acme Group and" after suffix removal).
const FILLER_WORDS: &[&str] = &["the", "and"];

/// The name as comparable words: lower case, accents folded, `&`/`+` read as "and", punctuation
/// as word breaks, runs of single letters joined ("A.B.C." → "abc", "L.L.C." → "llc"), legal
/// suffixes and leading/trailing fillers removed (never the last remaining word).
pub fn name_words(name: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '&' | '+' => spaced.push_str(" and "),
            // Apostrophes join ("O'Brien" → "obrien", "Joe's" → "joes").
            '\'' | '’' | '`' => {}
            c if c.is_alphanumeric() => {
                for l in c.to_lowercase() {
                    match fold_accent(l) {
                        Some(folded) => spaced.push_str(folded),
                        None => spaced.push(l),
                    }
                }
            }
            _ => spaced.push(' '),
        }
    }
    let mut words: Vec<String> = Vec::new();
    let mut letters = String::new();
    for w in spaced.split_whitespace() {
        if w.chars().count() == 1 && w.chars().all(char::is_alphabetic) {
            letters.push_str(w);
            continue;
        }
        if !letters.is_empty() {
            words.push(std::mem::take(&mut letters));
        }
        words.push(w.to_owned());
    }
    if !letters.is_empty() {
        words.push(letters);
    }
    strip_suffixes_and_fillers(&mut words);
    words
}

fn strip_suffixes_and_fillers(words: &mut Vec<String>) {
    let is = |w: Option<&String>, list: &[&str]| w.is_some_and(|w| list.contains(&w.as_str()));
    loop {
        let before = words.len();
        if words.len() > 1 && is(words.last(), LEGAL_SUFFIXES) {
            words.pop();
        }
        if words.len() > 1 && is(words.last(), FILLER_WORDS) {
            words.pop();
        }
        if words.len() > 1 && is(words.first(), FILLER_WORDS) {
            words.remove(0);
        }
        if words.len() == before {
            break;
        }
    }
}

/// The normalised name for display and similarity: the words joined by one space.
pub fn normalize_name(name: &str) -> String {
    name_words(name).join(" ")
}

/// The key two names must share to be "the same name": the words with no spaces, so
/// "Micro Soft" and "Microsoft" or "A B C" and "ABC" agree. `None` for a name with no letters.
pub fn name_key(name: &str) -> Option<String> {
    let key: String = name_words(name).concat();
    (!key.is_empty()).then_some(key)
}

/// Word-set similarity of two names in `[0, 1]` (Jaccard over the normalised words).
pub fn name_similarity(a: &str, b: &str) -> f64 {
    let a: BTreeSet<String> = name_words(a).into_iter().collect();
    let b: BTreeSet<String> = name_words(b).into_iter().collect();
    word_set_similarity(&a, &b)
}

pub(crate) fn word_set_similarity(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

fn fold_accent(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ß' => "ss",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ž' | 'ź' | 'ż' => "z",
        'š' | 'ś' => "s",
        'ł' => "l",
        'ř' => "r",
        _ => return None,
    })
}

/// The comparable part of a phone number, or `None` when it identifies nothing: the digits
/// without an extension (`x12`, `ext. 12`, `#12`), without an international prefix (`+`, `00`)
/// and North-American trunk `1`, keeping the last 10 digits. Numbers with fewer than 7 digits,
/// the integration's own placeholder `555-555-5555` and repeated-digit fillers yield `None`, so
/// they never make two companies look alike.
pub fn phone_key(phone: &str) -> Option<String> {
    let main = strip_extension(phone);
    let mut digits: String = main.chars().filter(char::is_ascii_digit).collect();
    if let Some(rest) = digits.strip_prefix("00") {
        digits = rest.to_owned();
    }
    if digits.len() == 11 && digits.starts_with('1') {
        digits.remove(0);
    }
    if digits.len() > 10 {
        digits = digits[digits.len() - 10..].to_owned();
    }
    let placeholder = digits == "5555555555" || digits.chars().all(|c| digits.starts_with(c));
    (digits.len() >= 7 && !placeholder).then_some(digits)
}

/// The digits of a phone as typed (extension included), for "did the number change?".
pub fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

fn strip_extension(phone: &str) -> &str {
    let lower = phone.to_ascii_lowercase();
    let cut = ["ext", "x", "#"]
        .iter()
        .filter_map(|marker| {
            lower.find(marker).filter(|&at| {
                // A marker counts only after some digits ("x" inside a word before digits is not one).
                lower[..at].chars().filter(char::is_ascii_digit).count() >= 7
            })
        })
        .min();
    match cut {
        Some(at) => &phone[..at],
        None => phone,
    }
}

/// Spellings of a phone number that Autotask (free text, no format rule) may hold, for an `in`
/// query: digits only and the common North-American and international layouts.
pub fn phone_query_variants(phone: &str) -> Vec<String> {
    let Some(d) = phone_key(phone) else {
        return Vec::new();
    };
    let mut out = vec![phone.trim().to_owned(), d.clone()];
    if d.len() == 10 {
        let (a, b, c) = (&d[..3], &d[3..6], &d[6..]);
        out.extend([
            format!("{a}-{b}-{c}"),
            format!("({a}) {b}-{c}"),
            format!("({a}){b}-{c}"),
            format!("{a}.{b}.{c}"),
            format!("{a} {b} {c}"),
            format!("1-{a}-{b}-{c}"),
            format!("+1 {a}-{b}-{c}"),
            format!("+1 ({a}) {b}-{c}"),
            format!("+1{d}"),
            format!("1{d}"),
        ]);
    }
    out.retain(|v| !v.is_empty());
    let mut seen = BTreeSet::new();
    out.retain(|v| seen.insert(v.clone()));
    out
}

/// Providers whose addresses say nothing about the employer.
const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.ca",
    "yahoo.fr",
    "yahoo.de",
    "ymail.com",
    "rocketmail.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "hotmail.de",
    "outlook.com",
    "live.com",
    "live.co.uk",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "gmx.com",
    "gmx.net",
    "gmx.de",
    "web.de",
    "protonmail.com",
    "proton.me",
    "pm.me",
    "yandex.com",
    "yandex.ru",
    "mail.ru",
    "zoho.com",
    "mail.com",
    "fastmail.com",
    "hey.com",
    "tutanota.com",
    "comcast.net",
    "att.net",
    "verizon.net",
    "sbcglobal.net",
    "bellsouth.net",
    "cox.net",
    "charter.net",
    "earthlink.net",
    "optonline.net",
    "shaw.ca",
    "rogers.com",
    "sympatico.ca",
    "btinternet.com",
    "virginmedia.com",
    "sky.com",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "t-online.de",
    "libero.it",
    "qq.com",
    "163.com",
    "126.com",
    "naver.com",
    "rediffmail.com",
];

/// An e-mail address compared case-insensitively, trimmed; `None` when it is not an address.
pub fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().trim_end_matches('.').to_lowercase();
    let (local, domain) = e.rsplit_once('@')?;
    (!local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !e.contains(char::is_whitespace))
        .then_some(e)
}

/// The domain of an address when it can point at a company: lower case, without a leading
/// `www.`, and `None` for public mail providers and malformed addresses.
pub fn company_email_domain(email: &str) -> Option<String> {
    let e = normalize_email(email)?;
    let (_, domain) = e.rsplit_once('@')?;
    let domain = domain.strip_prefix("www.").unwrap_or(domain);
    (!PUBLIC_MAIL_DOMAINS.contains(&domain)).then(|| domain.to_owned())
}

/// A customer number compared across systems: trimmed, upper case, inner spaces removed.
pub fn number_key(number: &str) -> Option<String> {
    let k: String = number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    (!k.is_empty()).then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differing_in_case_punctuation_and_legal_form_share_a_key() {
        let same = [
            "Acme, Inc.",
            "ACME INCORPORATED",
            "acme llc",
            "Acme L.L.C.",
            "The Acme Company",
            "  Acme   Corp ",
            "Acme GmbH",
            "Acme Ltd.",
        ];
        for n in same {
            assert_eq!(name_key(n).as_deref(), Some("acme"), "{n:?}");
        }
    }

    #[test]
    fn ampersand_reads_as_and_and_initials_join() {
        assert_eq!(name_key("Smith & Jones"), name_key("Smith and Jones"));
        assert_eq!(name_key("A.B.C. Services"), name_key("ABC Services Ltd"));
        assert_eq!(normalize_name("Smith & Co."), "smith");
        assert_eq!(normalize_name("Café Zürich AG"), "cafe zurich");
    }

    #[test]
    fn a_name_that_is_only_a_suffix_keeps_its_word() {
        assert_eq!(name_key("Limited"), Some("limited".into()));
        assert_eq!(name_key("The"), Some("the".into()));
        assert_eq!(name_key("!!!"), None);
    }

    #[test]
    fn different_companies_keep_different_keys() {
        assert_ne!(name_key("Acme Corp"), name_key("Acme Systems Corp"));
        assert_ne!(name_key("Acme East"), name_key("Acme West"));
        // Spacing is not identity: "Globe X" and "Globex" are one key on purpose.
        assert_eq!(name_key("Globex"), name_key("Globe X Ltd"));
    }

    #[test]
    fn similarity_is_symmetric_and_bounded() {
        let pairs = [
            ("Acme Systems", "Acme Systems Inc"),
            ("Acme Systems", "Acme"),
            ("A", "B"),
            ("", "x"),
        ];
        for (a, b) in pairs {
            let s = name_similarity(a, b);
            assert!((0.0..=1.0).contains(&s));
            assert_eq!(s, name_similarity(b, a));
        }
        assert_eq!(name_similarity("Acme Systems", "ACME systems, Inc."), 1.0);
        assert_eq!(name_similarity("Acme Systems", "Acme"), 0.5);
    }

    #[test]
    fn phone_formats_of_one_number_share_a_key() {
        let same = [
            "(555) 123-4567",
            "555.123.4567",
            "+1 555 123 4567",
            "1-555-123-4567",
            "001 555 123 4567",
            "555-123-4567 x 204",
            "555-123-4567 ext. 9",
        ];
        for p in same {
            assert_eq!(phone_key(p).as_deref(), Some("5551234567"), "{p:?}");
        }
    }

    #[test]
    fn placeholder_and_short_phones_identify_nothing() {
        for p in ["555-555-5555", "+1 (555) 555-5555", "000-000-0000", "12345", "", "n/a"] {
            assert_eq!(phone_key(p), None, "{p:?}");
        }
        assert_eq!(phone_key("+44 20 7946 0958").as_deref(), Some("2079460958"));
    }

    #[test]
    fn query_variants_all_normalise_to_the_same_key() {
        let variants = phone_query_variants("(555) 123-4567");
        assert!(variants.len() >= 8);
        assert!(variants.contains(&"555-123-4567".to_owned()));
        for v in &variants {
            assert_eq!(phone_key(v).as_deref(), Some("5551234567"), "{v:?}");
        }
        assert!(phone_query_variants("555-555-5555").is_empty());
    }

    #[test]
    fn email_domains_of_companies_only() {
        assert_eq!(company_email_domain(" Jane.Doe@Acme.COM ").as_deref(), Some("acme.com"));
        assert_eq!(company_email_domain("x@www.acme.com").as_deref(), Some("acme.com"));
        assert_eq!(company_email_domain("jane@gmail.com"), None);
        assert_eq!(company_email_domain("jane@Outlook.com"), None);
        assert_eq!(company_email_domain("not an address"), None);
        assert_eq!(company_email_domain("@acme.com"), None);
        assert_eq!(normalize_email("A@B.Co").as_deref(), Some("a@b.co"));
    }

    #[test]
    fn customer_numbers_compare_without_case_or_spaces() {
        assert_eq!(number_key(" c-1001 "), number_key("C-1001"));
        assert_eq!(number_key("AB 12"), Some("AB12".into()));
        assert_eq!(number_key("   "), None);
    }

    /// Property: normalising is idempotent and insensitive to case and surrounding punctuation.
    #[test]
    fn normalisation_is_idempotent_and_case_blind() {
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet: Vec<char> = "abcdefgh &.,-'ÉéüXYZ".chars().collect();
        for _ in 0..500 {
            let len = rng.usize(0..24);
            let name: String = (0..len).map(|_| alphabet[rng.usize(..alphabet.len())]).collect();
            let once = normalize_name(&name);
            assert_eq!(normalize_name(&once), once, "{name:?}");
            assert_eq!(normalize_name(&name.to_uppercase()), once, "{name:?}");
            assert_eq!(normalize_name(&format!("  {name}. ")), once, "{name:?}");
        }
    }
}
