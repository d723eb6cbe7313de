//! Telling, from a record's bytes, that no rule can look at it, so that
//! replay counts it without reading its fields.
//!
//! A record matters to replay's counts only when a rule's trigger can
//! match it, when trailguard's own roles made it (it is then ignored as
//! such), or when it failed (it is ignored as a failed call). Each of these
//! needs a string in the record's bytes:
//!
//! - a trigger: `eventName`'s value is one of the names the rules look at
//!   (`"eventName"` is found, and the string after its colon compared), or
//!   `userIdentity.type` is `"Root"`;
//! - trailguard's own call: the role's name is in the caller's ARN;
//! - a failed call: the key `"errorCode"`.
//!
//! A JSON string spells these only as they are, or with `\u00XX` escapes
//! of their ASCII characters (none holds a character with another
//! escape), so `\u00` is looked for too: a record that holds none of these
//! strings is one no rule, self check or failed-call count acts on,
//! whatever the reading of its fields. Every other record is read in full,
//! as before.
//!
//! One search of the record's bytes ([`Skim::finds`]), right after
//! serde_json skipped them, looks for all of them at once: a few patterns
//! with the SIMD searcher of `aho-corasick` (Teddy), where reading every
//! field of every record cost 1.66× serde_json skipping them. Teddy picks
//! candidates by each pattern's first three bytes, so
//! the patterns start where they are rare: `ntName"` (checked to follow
//! `"eve`), not `"eventName"`, whose `"ev` begins six other keys of every
//! record; `Root"` not `"Root"` (`"Ro` begins `"Role"`).

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, MatchKind};

/// The end of the key `"eventName"` (see the module's note), whose value
/// is compared with the rules' event names; and the bytes before it.
const EVENT_NAME: &str = "ntName\"";
const EVENT_NAME_HEAD: &[u8] = b"\"eve";

/// The other strings that make a record worth reading wherever they are:
/// the key `"errorCode"`, the value `"Root"` (each over-approximated by
/// its end), an escape of an ASCII character.
const ALWAYS: [&str; 3] = ["orCode\"", "Root\"", "\\u00"];

/// The strings that make a record worth reading, and the searcher for them.
pub struct Skim {
    search: Search,
    /// The event names any rule looks at, by their length in bytes.
    names: Vec<Vec<Box<[u8]>>>,
    /// The index of [`EVENT_NAME`] among the patterns.
    event_name: usize,
}

enum Search {
    /// Teddy, where the CPU has the instructions for it.
    Packed(packed::Searcher),
    /// Aho-Corasick's automaton otherwise.
    Automaton(AhoCorasick),
}

impl std::fmt::Debug for Skim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self
            .names
            .iter()
            .flatten()
            .map(|n| String::from_utf8_lossy(n))
            .collect();
        f.debug_struct("Skim").field("names", &names).finish()
    }
}

impl Skim {
    /// A skim for records whose `eventName` is one of `names`, and for any
    /// record that mentions one of `roles` (role names, in the caller's
    /// ARN), besides the strings every skim looks for.
    pub fn new<'a, 'b>(
        names: impl IntoIterator<Item = &'a str>,
        roles: impl IntoIterator<Item = &'b str>,
    ) -> Skim {
        let mut by_len: Vec<Vec<Box<[u8]>>> = Vec::new();
        for name in names {
            if by_len.len() <= name.len() {
                by_len.resize(name.len() + 1, Vec::new());
            }
            let same = &mut by_len[name.len()];
            if !same.iter().any(|n| **n == *name.as_bytes()) {
                same.push(name.as_bytes().into());
            }
        }
        // The role names first: of two matches that start at one byte, the
        // searcher reports the first pattern's only, and a role name such
        // as `ntName` must not be hidden behind an `eventName` that names
        // no rule's event. (A match of any other pattern is worth reading.)
        // An empty role name would mark every byte; none is valid anyway.
        let mut patterns: Vec<String> = roles
            .into_iter()
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        let event_name = patterns.len();
        patterns.extend([EVENT_NAME].into_iter().chain(ALWAYS).map(str::to_owned));
        let search = match packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(&patterns)
            .build()
        {
            Some(searcher) => Search::Packed(searcher),
            None => Search::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&patterns)
                    .expect("a few short patterns build"),
            ),
        };
        Skim {
            search,
            names: by_len,
            event_name,
        }
    }

    /// Does `record` (one record's JSON) hold what makes it worth
    /// reading: an `eventName` whose value is a rule's event name or not a
    /// plain string, or any other pattern? The search stops at the first.
    pub fn finds(&self, record: &str) -> bool {
        let bytes = record.as_bytes();
        let worth = |pattern: usize, start: usize, end: usize| {
            pattern != self.event_name
                || (start >= EVENT_NAME_HEAD.len()
                    && bytes[start - EVENT_NAME_HEAD.len()..start] == *EVENT_NAME_HEAD
                    && self.names_a_rules_event(&bytes[end..]))
        };
        match &self.search {
            Search::Packed(searcher) => searcher
                .find_iter(bytes)
                .any(|m| worth(m.pattern().as_usize(), m.start(), m.end())),
            Search::Automaton(automaton) => automaton
                .find_iter(bytes)
                .any(|m| worth(m.pattern().as_usize(), m.start(), m.end())),
        }
    }

    /// After `"eventName"`: is the value one of the rules' names? Anything
    /// but `: "<name without escapes>"` is taken to be one (it may be the
    /// key's value, read some other way).
    fn names_a_rules_event(&self, after_key: &[u8]) -> bool {
        let rest = after_key.trim_ascii_start();
        let Some(rest) = rest.strip_prefix(b":") else {
            return true;
        };
        let Some(rest) = rest.trim_ascii_start().strip_prefix(b"\"") else {
            return true;
        };
        let Some(end) = memchr::memchr2(b'"', b'\\', rest) else {
            return true;
        };
        if rest[end] == b'\\' {
            return true;
        }
        let value = &rest[..end];
        self.names
            .get(value.len())
            .is_some_and(|same| same.iter().any(|name| **name == *value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rule_names_roots_errors_escapes_and_roles() {
        let skim = Skim::new(["CreateUser", "ConsoleLogin"], ["tg-role"]);
        let marked = |text: &str| skim.finds(text);
        assert!(marked(r#"{"eventName":"CreateUser"}"#));
        assert!(marked(r#"{"eventName" : "ConsoleLogin"}"#));
        assert!(!marked(r#"{"eventName":"CreateUserX","x":"CreateUser"}"#));
        assert!(!marked(r#"{"eventName":"ListUsers"}"#));
        // What follows a name no rule looks at is still searched.
        assert!(marked(r#"{"eventName":"ListUsers","errorCode":"x"}"#));
        assert!(marked(
            r#"{"eventName":"A","x":{"eventName":"CreateUser"}}"#
        ));
        // Not a plain string: read in full.
        assert!(marked(r#"{"eventName":7}"#));
        assert!(marked(r#"{"eventName":"Create\u0055ser"}"#));
        // Only an escape of an ASCII character can spell a pattern.
        assert!(!marked(r#"{"userAgent":"\u0129\u1234"}"#));
        assert!(marked(r#"{"userAgent":"\u00e9"}"#));
        assert!(!marked(r#"{"parentName":"CreateUser"}"#));
        assert!(marked(r#"{"eventName":"Create\/User"}"#));
        assert!(marked(r#"{"eventName""#));
        assert!(marked(r#"{"userIdentity":{"type":"Root"}}"#));
        assert!(!marked(r#"{"userIdentity":{"type":"root"}}"#));
        assert!(marked(r#"{"userIdentity":{"type":"R\u006f\u006ft"}}"#));
        assert!(!marked(r#"{"sessionIssuer":{"type":"Role"}}"#));
        assert!(marked(r#"{"errorCode":""}"#));
        assert!(marked(r#"{"event\u004eame":"X"}"#));
        assert!(marked(r#"{"arn":"arn:aws:sts::1:assumed-role/tg-role/s"}"#));
        assert!(!marked(r#"{"arn":"arn:aws:sts::1:assumed-role/other/s"}"#));
    }

    #[test]
    fn a_role_name_where_an_event_name_key_could_start_is_found() {
        // `ntName` starts where `ntName"` does; reading `"eventName"`'s
        // pattern there first would hide the role.
        let skim = Skim::new(["CreateUser"], ["ntName"]);
        assert!(skim.finds(r#"{"arn":"arn:aws:iam::1:role/ntName"}"#));
        assert!(skim.finds(r#"{"eventName":"ListUsers"}"#));
        let skim = Skim::new(["CreateUser"], ["tg-role"]);
        assert!(!skim.finds(r#"{"arn":"arn:aws:iam::1:role/ntName"}"#));
    }

    #[test]
    fn a_one_letter_role_name_and_an_empty_record_are_skimmed() {
        let skim = Skim::new(["CreateUser"], ["q"]);
        assert!(!skim.finds(""));
        assert!(skim.finds(r#"{"arn":"a/q/s"}"#));
        assert!(!skim.finds(r#"{"eventName":"ListUsers"}"#));
    }

    #[test]
    fn the_automaton_finds_what_teddy_finds() {
        let skim = Skim::new(["CreateUser"], ["tg-role"]);
        let automaton = Skim {
            search: Search::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(["tg-role", EVENT_NAME, ALWAYS[0], ALWAYS[1], ALWAYS[2]])
                    .unwrap(),
            ),
            names: skim.names.clone(),
            event_name: 1,
        };
        let records = [
            (r#"{"eventName":"CreateUser"}"#, true),
            (r#"{"eventName":"X"}"#, false),
            (r#"{"eventName":"X","errorCode":"y"}"#, true),
            (r#"{"userIdentity":{"type":"Root"}}"#, true),
            (r#"{"arn":"a/tg-role/b"}"#, true),
            (r#"{"k":"\u0041"}"#, true),
            (r#"{"k":"\u0141"}"#, false),
        ];
        for (record, worth) in records {
            assert_eq!(skim.finds(record), worth, "{record}");
            assert_eq!(automaton.finds(record), worth, "{record}");
        }
    }
}
