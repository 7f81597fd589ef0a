//! Every CSV the service writes goes through here. A cell a spreadsheet would read as a
//! formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a
//! leading `'`, so text from investors, voters or staff (a withdrawal reason, a department
//! name) is shown, never evaluated. Plain numbers (`-2.50`) are left as numbers.

use std::borrow::Cow;

/// The cell as it is safe to write.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|c| *c == '.').count() <= 1
}

/// A CSV document being written; every cell is neutralised.
pub struct Sheet {
    writer: csv::Writer<Vec<u8>>,
}

impl Sheet {
    /// With a UTF-8 byte-order mark, so spreadsheet programs show Chinese text.
    pub fn with_bom() -> Sheet {
        Sheet { writer: csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec()) }
    }

    pub fn plain() -> Sheet {
        Sheet { writer: csv::Writer::from_writer(Vec::new()) }
    }

    pub fn row<I, S>(&mut self, cells: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells.into_iter().map(|c| neutralise(c.as_ref()).into_owned()).collect();
        self.writer.write_record(&cells)
    }

    pub fn finish(self) -> Result<Vec<u8>, std::io::Error> {
        self.writer.into_inner().map_err(|e| e.into_error())
    }
}

/// The `Content-Disposition` of a CSV download named `filename` (ASCII letters, digits, `-`,
/// `_` and `.` are kept; anything else becomes `_`).
pub fn attachment_disposition(filename: &str) -> String {
    let safe: String =
        filename.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    format!("attachment; filename=\"{safe}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        assert_eq!(neutralise("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        for risky in ["+1+1", "-1+cmd", "@SUM(A1)", "\tx", "\rx", "-", "=1"] {
            assert!(neutralise(risky).starts_with('\''), "{risky:?}");
        }
        for fine in ["-2.50", "+3", "12", "部门", "", "a=b", "0.5"] {
            assert_eq!(neutralise(fine), fine);
        }
    }

    #[test]
    fn sheets_write_neutralised_rows() {
        let mut s = Sheet::plain();
        s.row(["=HYPERLINK(\"http://x\")", "-1.00"]).unwrap();
        assert_eq!(String::from_utf8(s.finish().unwrap()).unwrap(), "\"'=HYPERLINK(\"\"http://x\"\")\",-1.00\n");
        assert_eq!(attachment_disposition("bimonthly-2026-03.csv"), "attachment; filename=\"bimonthly-2026-03.csv\"");
    }
}
