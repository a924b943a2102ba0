//! The pages' one stylesheet, themed with the accent colour at start-up and served under a path
//! that carries a hash of its content: it can be cached for a year, and a new theme or release
//! is a new path. A colour in the stylesheet (not in the page) keeps `style-src 'self'` strict.

use tessera_core::secret::bytes_digest;

const BASE: &str = include_str!("../assets/ui.css");
/// The accent the built-in stylesheet is written with.
const DEFAULT_ACCENT: &str = "--accent:#4f46e5";

/// The themed stylesheet.
pub struct Stylesheet {
    body: String,
    path: String,
}

impl Stylesheet {
    pub(crate) fn themed(accent: &str) -> Self {
        let body = BASE.replace(DEFAULT_ACCENT, &format!("--accent:{accent}"));
        let hash = bytes_digest(body.as_bytes());
        let path = format!("/ui/assets/ui.{}.css", &hash[..16]);
        Self { body, path }
    }

    /// Where it is served.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The CSS.
    pub fn body(&self) -> &str {
        &self.body
    }
}

/// `#rgb` or `#rrggbb`.
pub(crate) fn is_hex_color(text: &str) -> bool {
    text.strip_prefix('#')
        .is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accent_is_themed_in_and_changes_the_path() {
        let default = Stylesheet::themed("#4f46e5");
        let green = Stylesheet::themed("#0a7d4f");
        assert!(BASE.contains(DEFAULT_ACCENT));
        assert!(green.body().contains("--accent:#0a7d4f"));
        assert!(!green.body().contains(DEFAULT_ACCENT));
        assert_ne!(default.path(), green.path());
        assert!(green.path().starts_with("/ui/assets/ui.") && green.path().ends_with(".css"));
    }
}
