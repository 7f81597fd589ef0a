//! Compiles templates in, listed from their folders so that each list lives in one place:
//! - the email templates: every notice folder under `config/mail/` becomes an entry of
//!   `NOTICES`, and its six files (subject, text and HTML, in zh and en) entries of `SHIPPED`,
//!   with `layout.html`, the HTML shell every notice's HTML extends; the notices investors and
//!   voters read have three more, in traditional Chinese (`zh-Hant.*`);
//! - the page templates: every file under `src/pages/templates/`, named by its path there.

use std::fmt::Write as _;
use std::path::Path;

const PARTS: [&str; 6] = ["zh.subject.txt", "zh.txt", "zh.html", "en.subject.txt", "en.txt", "en.html"];
const TRADITIONAL_PARTS: [&str; 3] = ["zh-Hant.subject.txt", "zh-Hant.txt", "zh-Hant.html"];

/// The crate's folder as cargo names it when it runs this script — read at run time, not baked
/// in when the script is compiled: a script built for another checkout of the same sources may
/// be reused by cargo for this one.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts").into()
}

fn main() {
    let root = manifest_dir().join("config/mail");
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
    out.push_str("];\n\n/// The shipped templates, compiled in: (`<notice>/<lang>.<part>` or `layout.html`, text).\nconst SHIPPED: &[(&str, &str)] = &[\n");
    let layout = root.join("layout.html");
    assert!(layout.is_file(), "config/mail/layout.html is missing: every notice's HTML extends it");
    println!("cargo:rerun-if-changed={}", layout.display());
    writeln!(out, "    (\"layout.html\", include_str!({:?})),", layout.display().to_string()).unwrap();
    for n in &notices {
        for part in PARTS {
            let file = root.join(n).join(part);
            assert!(file.is_file(), "config/mail/{n}/{part} is missing: every notice has all six parts");
            println!("cargo:rerun-if-changed={}", file.display());
            writeln!(out, "    (\"{n}/{part}\", include_str!({:?})),", file.display().to_string()).unwrap();
        }
        // Notices to investors and voters also come in traditional Chinese: all three parts or none.
        let traditional: Vec<_> = TRADITIONAL_PARTS.iter().map(|part| root.join(n).join(part)).collect();
        let present = traditional.iter().filter(|f| f.is_file()).count();
        assert!(
            present == 0 || present == TRADITIONAL_PARTS.len(),
            "config/mail/{n}: a zh-Hant notice needs all of {TRADITIONAL_PARTS:?}"
        );
        for (file, part) in traditional.iter().zip(TRADITIONAL_PARTS).filter(|(f, _)| f.is_file()) {
            println!("cargo:rerun-if-changed={}", file.display());
            writeln!(out, "    (\"{n}/{part}\", include_str!({:?})),", file.display().to_string()).unwrap();
        }
    }
    out.push_str("];\n");
    let out_dir = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(Path::new(&out_dir).join("shipped_mail.rs"), out).expect("write shipped_mail.rs");
    page_templates(Path::new(&out_dir));
}

fn page_templates(out_dir: &Path) {
    let root = manifest_dir().join("src/pages/templates");
    println!("cargo:rerun-if-changed=src/pages/templates");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        println!("cargo:rerun-if-changed={}", dir.display());
        for entry in std::fs::read_dir(&dir).expect("src/pages/templates") {
            let path = entry.expect("template entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = String::from("/// Every page template: (its path under `src/pages/templates/`, its text).\nconst PAGE_TEMPLATES: &[(&str, &str)] = &[\n");
    for file in files {
        let name = file.strip_prefix(&root).expect("under the root").to_str().expect("UTF-8 names").replace('\\', "/");
        println!("cargo:rerun-if-changed={}", file.display());
        writeln!(out, "    ({name:?}, include_str!({:?})),", file.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    std::fs::write(out_dir.join("page_templates.rs"), out).expect("write page_templates.rs");
}
