//! Compiles the shipped email templates in: every notice folder under `config/mail/` becomes an
//! entry of `NOTICES`, and its six files (subject, text and HTML, in zh and en) entries of
//! `SHIPPED`, so the list of notices lives in one place — the folder — and a new notice needs
//! no code change to be shipped.

use std::fmt::Write as _;
use std::path::Path;

const PARTS: [&str; 6] = ["zh.subject.txt", "zh.txt", "zh.html", "en.subject.txt", "en.txt", "en.html"];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mail");
    println!("cargo:rerun-if-changed=config/mail");
    let mut notices: Vec<String> = std::fs::read_dir(&root)
        .expect("config/mail")
        .map(|e| e.expect("config/mail entry"))
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().into_string().expect("notice folder names are UTF-8"))
        .collect();
    notices.sort();
    let mut out = String::from(
        "/// Every notice anshang sends: one folder of `config/mail/` each.\npub const NOTICES: &[&str] = &[\n",
    );
    for n in &notices {
        writeln!(out, "    {n:?},").unwrap();
    }
    out.push_str("];\n\n/// The shipped templates, compiled in: (`<notice>/<lang>.<part>`, text).\nconst SHIPPED: &[(&str, &str)] = &[\n");
    for n in &notices {
        for part in PARTS {
            let file = root.join(n).join(part);
            assert!(file.is_file(), "config/mail/{n}/{part} is missing: every notice has all six parts");
            println!("cargo:rerun-if-changed={}", file.display());
            writeln!(out, "    (\"{n}/{part}\", include_str!({:?})),", file.display().to_string()).unwrap();
        }
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("shipped_mail.rs");
    std::fs::write(dest, out).expect("write shipped_mail.rs");
}
