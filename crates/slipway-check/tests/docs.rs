//! `docs/rules.md` documents exactly the rules in the code, with their default levels.

use std::collections::BTreeMap;

use slipway_check::{Level, RULES};

/// `id → default level` from the sections of `docs/rules.md`: a `### `id`` heading
/// followed by a `**Default level:** `level`` line.
fn documented() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules.md");
    let text = std::fs::read_to_string(path).expect("docs/rules.md exists");
    let mut rules = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            let id = heading.trim().trim_matches('`').to_owned();
            assert!(
                !rules.contains_key(&id),
                "`{id}` is documented twice in docs/rules.md"
            );
            current = Some(id);
        } else if let Some(rest) = line.strip_prefix("**Default level:** ") {
            let id = current
                .take()
                .expect("a default level belongs to a rule section");
            let level = rest
                .split('`')
                .nth(1)
                .expect("level in backticks")
                .to_owned();
            rules.insert(id, level);
        }
    }
    rules
}

/// `id → default level` from the summary table of `docs/rules.md`.
fn table() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules.md");
    let text = std::fs::read_to_string(path).expect("docs/rules.md exists");
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let id = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let level = cells.get(2)?.split_whitespace().next()?;
            Some((id.to_owned(), level.to_owned()))
        })
        .collect()
}

fn in_code() -> BTreeMap<String, String> {
    RULES
        .iter()
        .map(|r| (r.id.to_owned(), r.default_level.to_string()))
        .collect()
}

#[test]
fn every_rule_is_documented_with_its_default_level_and_vice_versa() {
    assert_eq!(documented(), in_code());
}

#[test]
fn the_summary_table_lists_every_rule_with_its_default_level() {
    assert_eq!(table(), in_code());
}

#[test]
fn no_rule_defaults_to_off() {
    assert!(RULES.iter().all(|r| r.default_level != Level::Off));
}
