//! The project is MIT OR Apache-2.0: no dependency may carry a GPL-family licence (an MIT/Apache
//! service cannot ship GPL code). Reads the resolved dependency graph from `cargo metadata`.

#[test]
fn no_dependency_is_gpl_licensed() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    assert!(packages.len() > 100, "the whole graph was read");
    let mut offenders = Vec::new();
    for p in packages {
        let licence = p["license"].as_str().unwrap_or("");
        // "GPL" also matches LGPL and AGPL. A dual licence offering a non-GPL choice is fine.
        let choices: Vec<&str> = licence.split(" OR ").map(|c| c.trim_matches(|ch| ch == '(' || ch == ')').trim()).collect();
        if licence.is_empty() && p["license_file"].is_null() {
            offenders.push(format!("{} {}: no licence", p["name"], p["version"]));
        } else if !licence.is_empty() && choices.iter().all(|c| c.contains("GPL")) {
            offenders.push(format!("{} {}: {licence}", p["name"], p["version"]));
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
    assert_eq!(packages.iter().find(|p| p["name"] == "anshang").unwrap()["license"], "MIT OR Apache-2.0");
}
