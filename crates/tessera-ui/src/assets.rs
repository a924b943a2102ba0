//! The pages' assets, each served under a path that carries a hash of its content: they can be
//! cached for a year, and a new theme or release is a new path. The one stylesheet is themed
//! with the accent colour at start-up (a colour in the stylesheet, not in the page, keeps
//! `style-src 'self'` strict); the one script adds passkeys to pages that work without it.

use tessera_core::secret::bytes_digest;

const BASE: &str = include_str!("../assets/ui.css");
const PASSKEYS: &str = include_str!("../assets/passkeys.js");
/// The accent the built-in stylesheet is written with.
const DEFAULT_ACCENT: &str = "--accent:#4f46e5";

/// A file the pages load.
pub struct Asset {
    body: String,
    path: String,
    content_type: &'static str,
}

impl Asset {
    /// `body` under `/ui/assets/{stem}.{hash}.{extension}`.
    fn hashed(stem: &str, extension: &str, body: String, content_type: &'static str) -> Self {
        let hash = bytes_digest(body.as_bytes());
        let path = format!("/ui/assets/{stem}.{}.{extension}", &hash[..16]);
        Self {
            body,
            path,
            content_type,
        }
    }

    /// The stylesheet in the accent colour.
    pub(crate) fn themed(accent: &str) -> Self {
        let body = BASE.replace(DEFAULT_ACCENT, &format!("--accent:{accent}"));
        Self::hashed("ui", "css", body, "text/css; charset=utf-8")
    }

    /// The passkey script of the sign-in and account pages.
    pub(crate) fn passkey_script() -> Self {
        Self::hashed(
            "passkeys",
            "js",
            PASSKEYS.to_owned(),
            "text/javascript; charset=utf-8",
        )
    }

    /// Its `Content-Type`.
    pub fn content_type(&self) -> &'static str {
        self.content_type
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
        let default = Asset::themed("#4f46e5");
        let green = Asset::themed("#0a7d4f");
        assert!(BASE.contains(DEFAULT_ACCENT));
        assert!(green.body().contains("--accent:#0a7d4f"));
        assert!(!green.body().contains(DEFAULT_ACCENT));
        assert_ne!(default.path(), green.path());
        assert!(green.path().starts_with("/ui/assets/ui.") && green.path().ends_with(".css"));
        let script = Asset::passkey_script();
        assert!(
            script.path().starts_with("/ui/assets/passkeys.") && script.path().ends_with(".js")
        );
    }
}
