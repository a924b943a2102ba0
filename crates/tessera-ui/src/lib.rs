//! Tessera's hosted pages, as rendering: the templates (built in, each overridable by a file of
//! the same name in `ui.templates_dir`, read once at start-up), the messages in English and
//! Korean under stable ids, and the stylesheet themed with the accent colour and served under
//! a content hash. No HTTP here: the HTTP layer's page handlers call [`Ui::render`].

mod assets;
mod messages;
mod qr;
mod templates;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;
use tessera_core::mail::Locale;

pub use assets::Asset;

/// What the pages are themed with (`[ui]`).
#[derive(Debug, Clone)]
pub struct UiSettings {
    /// The product the pages speak of.
    pub product_name: String,
    /// A logo shown instead of the name; empty for none.
    pub logo_url: String,
    /// `#rgb` or `#rrggbb`: buttons and links.
    pub accent_color: String,
    /// The language when a request names none the pages speak.
    pub default_locale: Locale,
    /// Templates that replace the built-in ones of the same file name; `None` for none.
    pub templates_dir: Option<PathBuf>,
}

/// A setting or an override the pages cannot work with. Checked at start, so a typo in a
/// template stops the server with its line rather than failing a sign-in later.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// `ui.accent_color` is not a hex colour.
    #[error("ui.accent_color must be #rgb or #rrggbb, not {0:?}")]
    AccentColor(String),
    /// `ui.logo_url` is not an absolute http(s) URL or a path on this server.
    #[error("ui.logo_url must be an https URL or a path starting with /, not {0:?}")]
    LogoUrl(String),
    /// An override could not be read.
    #[error("ui.templates_dir: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A template does not compile, or failed to render.
    #[error("template {name}: {source}")]
    Template {
        /// The template's file name.
        name: String,
        /// What the engine said.
        source: minijinja::Error,
    },
}

/// One link of the language switch.
#[derive(Debug, Serialize)]
pub struct LanguageLink {
    /// `en` or `ko`.
    pub code: &'static str,
    /// The language's own name.
    pub name: String,
    /// The same page in that language.
    pub href: String,
    /// Whether the page is in it now.
    pub current: bool,
}

/// The hosted pages' renderer.
pub struct Ui {
    templates: minijinja::Environment<'static>,
    messages: messages::Messages,
    stylesheet: Asset,
    script: Asset,
    settings: UiSettings,
    /// Pages whose only per-request part is the CSRF token: rendered once per language, cut
    /// where the token goes.
    prerendered: RwLock<Vec<Prerendered>>,
}

/// A page (by template name) in a language, cut where the CSRF token goes.
type Prerendered = (&'static str, Locale, Arc<[String]>);

/// What stands for the CSRF token in a page rendered once: letters only, so no escaping
/// changes it, and nothing else on a page reads like it.
const TOKEN_SLOT: &str = "TesseraCsrfTokenSlotQx7Kp2";

impl Ui {
    /// Checks the settings, themes the stylesheet and compiles every template (overrides
    /// included).
    pub fn load(settings: UiSettings) -> Result<Self, UiError> {
        if !assets::is_hex_color(&settings.accent_color) {
            return Err(UiError::AccentColor(settings.accent_color));
        }
        if !settings.logo_url.is_empty() && !is_logo_url(&settings.logo_url) {
            return Err(UiError::LogoUrl(settings.logo_url));
        }
        Ok(Self {
            templates: templates::environment(settings.templates_dir.as_deref())?,
            messages: messages::Messages::load(),
            stylesheet: Asset::themed(&settings.accent_color),
            script: Asset::passkey_script(),
            settings,
            prerendered: RwLock::new(Vec::new()),
        })
    }

    /// The themed stylesheet.
    pub fn stylesheet(&self) -> &Asset {
        &self.stylesheet
    }

    /// The asset served as `file` (its hashed name), if any.
    pub fn asset(&self, file: &str) -> Option<&Asset> {
        [&self.stylesheet, &self.script]
            .into_iter()
            .find(|asset| asset.path().rsplit('/').next() == Some(file))
    }

    /// The language of a request: `?lang=` first, then `Accept-Language`, then the default.
    pub fn locale(&self, lang: Option<&str>, accept_language: Option<&str>) -> Locale {
        lang.and_then(Locale::parse)
            .or_else(|| accept_language.and_then(Locale::preferred))
            .unwrap_or(self.settings.default_locale)
    }

    /// The message `id` in `locale`.
    pub fn message(&self, locale: Locale, id: &str) -> String {
        self.messages.get(locale, id).to_owned()
    }

    /// The Content-Security-Policy of every page: nothing but this server's stylesheet and
    /// script files (and the logo's origin), no inline script or style, requests and forms to
    /// this server only, no framing.
    pub fn content_security_policy(&self) -> String {
        let images = match logo_origin(&self.settings.logo_url) {
            Some(origin) => format!("'self' {origin}"),
            None => "'self'".to_owned(),
        };
        format!(
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; \
             img-src {images}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    }

    /// Renders `page` (`login`, `signup`, …) in `locale` with `context`, which the theme, the
    /// messages (`t`), the stylesheet's URL and the language links (to `path` with `query`)
    /// join.
    pub fn render(
        &self,
        page: &str,
        locale: Locale,
        path: &str,
        query: &[(&str, &str)],
        context: impl Serialize,
    ) -> Result<String, UiError> {
        let name = format!("{page}.html");
        let template = self
            .templates
            .get_template(&name)
            .map_err(|source| UiError::Template {
                name: name.clone(),
                source,
            })?;
        let page_context = Value::from(Serde(&context));
        let common = minijinja::context! {
            lang => locale.as_str(),
            product => self.settings.product_name.as_str(),
            logo_url => self.settings.logo_url.as_str(),
            // Made here from a hash: nothing in it needs escaping.
            stylesheet => Value::from_safe_string(self.stylesheet.path().to_owned()),
            script => Value::from_safe_string(self.script.path().to_owned()),
            t => Value::from(Serde(self.messages.all(locale))),
            languages => Value::from(Serde(self.languages(locale, path, query))),
        };
        template
            .render(minijinja::context! { ..page_context, ..common })
            .map_err(|source| UiError::Template { name, source })
    }

    /// [`render`](Self::render) for a page whose context, apart from the CSRF token, is the
    /// same for every request in a language (the sign-in page without `redirect_to`): the
    /// template runs once per language with a placeholder for the token, later requests only
    /// put their token in. `context` gets the token to render with.
    pub fn render_with_token<C: Serialize>(
        &self,
        page: &'static str,
        locale: Locale,
        path: &str,
        context: impl FnOnce(&str) -> C,
        token: &str,
    ) -> Result<String, UiError> {
        let cached = self
            .prerendered
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(name, language, _)| *name == page && *language == locale)
            .map(|(_, _, parts)| Arc::clone(parts));
        let parts = match cached {
            Some(parts) => parts,
            None => {
                let html = self.render(page, locale, path, &[], context(TOKEN_SLOT))?;
                let parts: Arc<[String]> = html.split(TOKEN_SLOT).map(str::to_owned).collect();
                self.prerendered
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((page, locale, Arc::clone(&parts)));
                parts
            }
        };
        Ok(parts.join(token))
    }

    fn languages(&self, current: Locale, path: &str, query: &[(&str, &str)]) -> Vec<LanguageLink> {
        [Locale::En, Locale::Ko]
            .into_iter()
            .map(|locale| {
                let mut pairs = vec![("lang", locale.as_str())];
                pairs.extend(query.iter().filter(|(key, _)| *key != "lang"));
                LanguageLink {
                    code: locale.as_str(),
                    name: self.messages.get(locale, "lang_name").to_owned(),
                    href: format!("{path}?{}", encode_query(&pairs)),
                    current: locale == current,
                }
            })
            .collect()
    }
}

/// `key=value&…`, form-encoded.
pub fn encode_query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn is_logo_url(url: &str) -> bool {
    (url.starts_with('/') && !url.starts_with("//")) || logo_origin(url).is_some()
}

/// `https://host[:port]` of an absolute logo URL.
fn logo_origin(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains(['@', '\\', ' ', '\'', '"', ';']))
        .then(|| format!("https://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> UiSettings {
        UiSettings {
            product_name: "Acme".into(),
            logo_url: String::new(),
            accent_color: "#0a7d4f".into(),
            default_locale: Locale::En,
            templates_dir: None,
        }
    }

    #[test]
    fn every_built_in_page_renders_in_both_languages() {
        let ui = Ui::load(settings()).unwrap();
        let context = serde_json::json!({
            "csrf_token": "c", "redirect_to": "https://app.example/", "email": "", "name": "",
            "providers": [{"href": "/auth/oauth/google/authorize", "label": "Google"}],
            "signup_href": "/ui/signup", "login_href": "/ui/login", "error": "",
            "field_errors": {}, "heading": "Signed out", "lead": "Bye.",
            "mfa_token": "m", "action": "/ui/verify", "field": "token", "token": "t",
            "button": "Go", "back_href": "/ui/login", "back_label": "Sign in",
            "user": {"email": "ann@example.test", "name": "Ann", "email_verified": true,
                     "mfa_enabled": false},
            "notice": "Saved.", "errors": {"name": "Too long."}, "new_email": "",
            "sessions": [{"id": "s1", "device": "Chrome · Linux", "detail": "Last used now",
                          "current": true}],
            "identities": [{"provider": "github", "label": "GitHub", "email": "a@b.c"}],
            "linkable": [{"href": "/auth/oauth/google/authorize", "label": "Google"}],
            "otpauth_uri": "otpauth://totp/Acme:ann?secret=JBSWY3DPEHPK3PXP", "secret": "JBSWY3DPEHPK3PXP",
            "codes": ["aaaa-bbbb", "cccc-dddd"],
            "passkeys": true, "passkey_next": "/ui/account", "passkey_done": "/ui/account?done=p",
            "passkey_name": "Chrome · Linux",
            "passkey_rows": [{"id": "p1", "name": "Laptop", "detail": "Added today"}],
        });
        for page in templates::PAGES {
            for locale in [Locale::En, Locale::Ko] {
                let html = ui.render(page, locale, "/ui/x", &[], &context).unwrap();
                assert!(
                    html.contains(&format!("<html lang=\"{}\">", locale.as_str())),
                    "{page}"
                );
                assert!(html.contains(ui.stylesheet().path()), "{page}");
            }
        }
    }

    #[test]
    fn a_page_rendered_once_carries_each_requests_token() {
        let ui = Ui::load(settings()).unwrap();
        let context = |token: &str| {
            serde_json::json!({
                "csrf_token": token, "redirect_to": "", "email": "", "error": "",
                "providers": [], "signup_href": "/ui/signup",
            })
        };
        let first = ui
            .render_with_token("login", Locale::En, "/ui/login", context, "tokenA")
            .unwrap();
        let second = ui
            .render_with_token("login", Locale::En, "/ui/login", context, "tokenB")
            .unwrap();
        let korean = ui
            .render_with_token("login", Locale::Ko, "/ui/login", context, "tokenC")
            .unwrap();
        let fresh = ui
            .render("login", Locale::En, "/ui/login", &[], context("tokenB"))
            .unwrap();
        assert!(first.contains("value=\"tokenA\"") && !first.contains(TOKEN_SLOT));
        assert_eq!(second, fresh, "the same page as a full render");
        assert!(korean.contains("<html lang=\"ko\">") && korean.contains("value=\"tokenC\""));
    }

    #[test]
    fn bad_settings_are_refused_at_start() {
        for bad in ["red", "#12345", "#gggggg", "#0a7d4f; x"] {
            let error = Ui::load(UiSettings {
                accent_color: bad.into(),
                ..settings()
            });
            assert!(matches!(error, Err(UiError::AccentColor(_))), "{bad}");
        }
        for bad in [
            "http://logo.example/x.png",
            "//evil.example/x.png",
            "javascript:x",
            "https://a b/",
        ] {
            let error = Ui::load(UiSettings {
                logo_url: bad.into(),
                ..settings()
            });
            assert!(matches!(error, Err(UiError::LogoUrl(_))), "{bad}");
        }
    }

    #[test]
    fn the_policy_admits_the_logos_origin_only() {
        let ui = Ui::load(UiSettings {
            logo_url: "https://cdn.acme.example/logo.svg".into(),
            ..settings()
        })
        .unwrap();
        let policy = ui.content_security_policy();
        assert!(
            policy.contains("img-src 'self' https://cdn.acme.example;"),
            "{policy}"
        );
        assert!(policy.contains("default-src 'none'"));
        assert!(policy.contains("script-src 'self';") && !policy.contains("unsafe"));
    }

    #[test]
    fn the_language_comes_from_the_query_then_the_header_then_the_default() {
        let ui = Ui::load(settings()).unwrap();
        assert_eq!(ui.locale(Some("ko"), Some("en")), Locale::Ko);
        assert_eq!(ui.locale(None, Some("ko-KR,ko;q=0.9,en;q=0.5")), Locale::Ko);
        assert_eq!(ui.locale(Some("fr"), Some("fr")), Locale::En);
    }

    #[test]
    fn language_links_keep_the_pages_query() {
        let ui = Ui::load(settings()).unwrap();
        let links = ui.languages(
            Locale::En,
            "/ui/login",
            &[("redirect_to", "https://app.example/a?b=c")],
        );
        assert_eq!(
            links[1].href,
            "/ui/login?lang=ko&redirect_to=https%3A%2F%2Fapp.example%2Fa%3Fb%3Dc"
        );
        assert!(links[0].current && !links[1].current);
    }
}
