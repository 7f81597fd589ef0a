//! Property-based fuzzing of the parsers that take untrusted text: calendar files, RFC 3339
//! instants, tracking numbers, ballot codes, attachment names and types. No input may panic;
//! what is accepted must be well-formed and survive a round trip.
//!
//! CI runs 512 cases per property. A long campaign:
//!   ANSHANG_FUZZ_CASES=200000 cargo nextest run --release --test input_fuzz
//! Each property prints how many inputs it tried (`--no-capture` shows it).

use anshang::calendar::CalendarYear;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn runner() -> TestRunner {
    let cases = std::env::var("ANSHANG_FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512);
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

fn report(what: &str, runner: &TestRunner) {
    println!("fuzz {what}: {} inputs", runner.config().cases);
}

fn calendar() -> &'static anshang::calendar::WorkingCalendar {
    static CAL: std::sync::OnceLock<anshang::calendar::WorkingCalendar> = std::sync::OnceLock::new();
    CAL.get_or_init(|| {
        let years = (2017..=2026)
            .map(|y| {
                let path = format!("{}/config/calendar/cn-{y}.toml", env!("CARGO_MANIFEST_DIR"));
                CalendarYear::from_toml_str(&std::fs::read_to_string(path).unwrap()).unwrap()
            })
            .collect();
        anshang::calendar::WorkingCalendar::new(years).unwrap()
    })
}

/// Mutations of a real calendar file: any line dropped, duplicated or garbled.
fn shipped_calendar() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/calendar/cn-2026.toml"))
        .expect("shipped calendar")
}

#[test]
fn calendar_files_never_panic_and_what_parses_round_trips() {
    let base = shipped_calendar();
    let lines: Vec<String> = base.lines().map(str::to_string).collect();
    let mut runner = runner();
    let strategy =
        (proptest::collection::vec((0..lines.len(), 0u8..4, "\\PC{0,12}"), 0..6), any::<bool>(), "\\PC{0,200}");
    runner
        .run(&strategy, |(edits, raw, noise)| {
            let text = if raw {
                noise
            } else {
                let mut l = lines.clone();
                for (at, kind, junk) in edits {
                    let at = at.min(l.len().saturating_sub(1));
                    match kind {
                        0 if !l.is_empty() => {
                            l.remove(at);
                        }
                        1 => l.insert(at, l.get(at).cloned().unwrap_or_default()),
                        2 => l[at].push_str(&junk),
                        _ => l[at] = junk,
                    }
                }
                l.join("\n")
            };
            if let Ok(year) = CalendarYear::from_toml_str(&text) {
                let again = CalendarYear::from_toml_str(&year.to_toml_string()).expect("a parsed year re-parses");
                prop_assert_eq!(again, year);
            }
            Ok(())
        })
        .unwrap();
    report("calendar files", &runner);
}

#[test]
fn rfc3339_instants_never_panic_and_accepted_ones_round_trip() {
    let mut runner = runner();
    let strategy = prop_oneof![
        "\\PC{0,40}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
    ];
    runner
        .run(&strategy, |raw| {
            if let Ok(t) = anshang::calendar::runtime::parse_instant(&raw) {
                prop_assert_eq!(anshang::calendar::runtime::parse_instant(&t.to_rfc3339()).unwrap(), t);
                // A due date can be asked for any accepted instant without a panic.
                let _ = anshang::calendar::runtime::due_answer(calendar(), t, 7, Default::default());
            }
            Ok(())
        })
        .unwrap();
    report("RFC 3339 instants", &runner);
}

#[test]
fn tracking_numbers_ballot_codes_and_file_names_never_panic() {
    let mut runner = runner();
    runner
        .run(&"\\PC{0,80}", |raw| {
            if let Some(n) = anshang::complaints::model::TrackingNumber::parse(&raw) {
                prop_assert_eq!(anshang::complaints::model::TrackingNumber::parse(&n.to_string()), Some(n));
            }
            if let Ok(code) = anshang::ballots::codes::normalise(&raw) {
                prop_assert_eq!(anshang::ballots::codes::normalise(&code).unwrap(), code.clone());
                prop_assert_eq!(anshang::ballots::codes::normalise(&code.to_lowercase()).unwrap(), code);
            }
            if let Ok(name) = anshang::complaints::attachments::sanitize_filename(&raw) {
                prop_assert!(!name.contains('/') && !name.contains('\\') && name != "." && name != "..");
                let _ = anshang::complaints::attachments::sniff(raw.as_bytes(), &name);
            }
            Ok(())
        })
        .unwrap();
    report("numbers, codes and names", &runner);
}
