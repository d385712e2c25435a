//! Lua's long brackets (`[[ ... ]]`, `[==[ ... ]==]`), which open long
//! strings and, after `--`, long comments: the header rule, the depth scan
//! and the check for dropped code all step over them.

/// The level of a long bracket opening `s` (`[[` is 0, `[==[` is 2).
pub(crate) fn level(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('[')?;
    let level = rest.len() - rest.trim_start_matches('=').len();
    rest[level..].starts_with('[').then_some(level)
}

/// The byte just after the first closing bracket of `level` in `s`
/// (`]]`, `]==]`), if any.
pub(crate) fn close(s: &str, level: usize) -> Option<usize> {
    let close = format!("]{}]", "=".repeat(level));
    s.find(&close).map(|i| i + close.len())
}

/// The byte after the long bracket that opens at `open` in `text` (at its
/// `[`) closes; `None` if it never does.
pub(crate) fn skip(text: &str, open: usize) -> Option<usize> {
    let level = level(&text[open..])?;
    let body = open + level + 2;
    close(&text[body..], level).map(|n| body + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_closes() {
        assert_eq!(level("[[x"), Some(0));
        assert_eq!(level("[==[x"), Some(2));
        assert_eq!(level("[=x"), None);
        assert_eq!(level("x"), None);
        assert_eq!(close("a]]b", 0), Some(3));
        assert_eq!(close("a]]]==]b", 2), Some(7));
        assert_eq!(close("a]=]", 0), None);
        assert_eq!(skip("x = [==[ ]] ]==] y", 4), Some(16));
        assert_eq!(skip("x = [[ open", 4), None);
    }
}
