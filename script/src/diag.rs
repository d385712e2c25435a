//! Diagnostics that point into `.lua` files, rendered like rustc's own.
//!
//! A proc macro can only span Rust tokens, so an error about a `.lua` file
//! is spanned on the attribute's path literal and carries its own
//! `--> file:line:col` block, source line and caret in the message text.

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// One problem in a `.lua` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Index into the list of files read for this script (see `assemble::Files`).
    pub file: usize,
    pub span: Span,
    pub message: String,
    /// Short text printed after the carets.
    pub label: Option<String>,
    /// What would fix it.
    pub help: Option<String>,
    /// Extra context lines (`= note: ...`), e.g. the include chain.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(file: usize, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            file,
            span,
            message: message.into(),
            label: None,
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Renders the diagnostic as rustc does, given the file's display path
    /// (relative to the crate root, e.g. `lua/create_status.lua`) and text.
    pub fn render(&self, path: &str, text: &str) -> String {
        let start = self.span.start.min(text.len());
        let end = self.span.end.clamp(start, text.len());
        let (line_no, line_start) = line_of(text, start);
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i);
        let full_line = text[line_start..line_end].trim_end_matches('\r');
        let col = text[line_start..start].chars().count() + 1;
        // Carets cover the span's part on its first line, at least one.
        let caret_end = end.min(line_start + full_line.len()).max(start);
        let carets = text[start..caret_end].chars().count().clamp(1, EXCERPT);
        // A very long line is shown as a window around the span, so many
        // findings on one huge line do not print it whole each time.
        let (shown, skipped) = excerpt(full_line, col - 1);
        let gutter = line_no.to_string().len();
        let pad = " ".repeat(gutter);
        let mut out = format!("{}\n{pad}--> {path}:{line_no}:{col}\n", self.message);
        out.push_str(&format!("{pad} |\n{line_no} | {shown}\n"));
        let lead = if skipped > 0 { 3 } else { 0 };
        let indent: String = std::iter::repeat_n(' ', lead)
            .chain(
                full_line
                    .chars()
                    .skip(skipped)
                    .take(col - 1 - skipped)
                    .map(|c| if c == '\t' { '\t' } else { ' ' }),
            )
            .collect();
        out.push_str(&format!("{pad} | {indent}{}", "^".repeat(carets)));
        if let Some(label) = &self.label {
            out.push(' ');
            out.push_str(label);
        }
        out.push('\n');
        out.push_str(&format!("{pad} |"));
        for note in &self.notes {
            out.push_str(&format!("\n{pad} = note: {note}"));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("\n{pad} = help: {help}"));
        }
        out
    }
}

/// Characters of a source line shown around a finding.
const EXCERPT: usize = 160;

/// `line`, or a window of it around char `col0` (0-based) marked with `...`
/// at the cut ends; and how many chars were cut at the start.
fn excerpt(line: &str, col0: usize) -> (String, usize) {
    let len = line.chars().count();
    if len <= EXCERPT + 40 {
        return (line.to_string(), 0);
    }
    let skip = col0
        .saturating_sub(EXCERPT / 4)
        .min(len.saturating_sub(EXCERPT));
    let mut shown: String = line.chars().skip(skip).take(EXCERPT).collect();
    if skip + EXCERPT < len {
        shown.push_str("...");
    }
    if skip > 0 {
        shown.insert_str(0, "...");
    }
    (shown, skip)
}

/// 1-based line number of byte `pos`, and the byte where that line starts.
pub fn line_of(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, start)
}

/// Byte span of `len` characters at 1-based `line` and `col` (in characters).
pub fn span_at(text: &str, line: usize, col: usize, len: usize) -> Span {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    let rest = &text[line_start..];
    let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
    span_in_line(line_start, line_text, col, len)
}

/// Byte span of `len` characters at 1-based char column `col` of the line
/// `line_text`, which starts at byte `line_start`.
pub(crate) fn span_in_line(line_start: usize, line_text: &str, col: usize, len: usize) -> Span {
    let byte_at = |chars: usize| {
        line_text
            .char_indices()
            .nth(chars)
            .map_or(line_text.len(), |(i, _)| i)
    };
    let start = byte_at(col.saturating_sub(1));
    let end = byte_at(col.saturating_sub(1) + len.max(1));
    Span::new(line_start + start, line_start + end.max(start))
}

/// The closest of `candidates` to `name`, if it is close enough to be a
/// plausible typo (edit distance at most a third of the name, and at least 1).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = name.chars().count();
    let limit = (len / 3).max(1);
    candidates
        .into_iter()
        // The distance is at least the difference in length: most
        // candidates need no table.
        .filter(|c| *c != name && c.chars().count().abs_diff(len) <= limit)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let text = "%key user\n%arg size integr\nreturn 1\n";
        let d = Diagnostic::new(0, Span::new(20, 26), "unknown type `integr`")
            .label("not a type")
            .help("did you mean `integer`?");
        assert_eq!(
            d.render("lua/a.lua", text),
            "unknown type `integr`\n --> lua/a.lua:2:11\n  |\n2 | %arg size integr\n  |           ^^^^^^ not a type\n  |\n  = help: did you mean `integer`?"
        );
    }

    #[test]
    fn span_at_round_trips_with_line_of() {
        let text = "a\nbcd\néf\n";
        let s = span_at(text, 3, 2, 1);
        assert_eq!(&text[s.start..s.end], "f");
        assert_eq!(line_of(text, s.start), (3, 6));
    }

    #[test]
    fn closest_finds_typos_only() {
        let names = ["foo_root_key", "foo_members_key", "size"];
        assert_eq!(closest("foo_size_key", names), Some("foo_root_key"));
        assert_eq!(closest("zzz", names), None);
    }
}
