//! The pages' words, by stable id, in each language: one TOML file per language, so another
//! language is one more file. English is the reference: every file has exactly its ids.

use std::collections::BTreeMap;

use tessera_core::mail::Locale;

const ENGLISH: &str = include_str!("../locales/en.toml");
const KOREAN: &str = include_str!("../locales/ko.toml");

/// Every message of every language.
pub(crate) struct Messages {
    en: BTreeMap<String, String>,
    ko: BTreeMap<String, String>,
}

impl Messages {
    /// The built-in files; a file that does not parse is a build defect the tests catch.
    pub(crate) fn load() -> Self {
        Self {
            en: parse(ENGLISH),
            ko: parse(KOREAN),
        }
    }

    pub(crate) fn all(&self, locale: Locale) -> &BTreeMap<String, String> {
        match locale {
            Locale::En => &self.en,
            Locale::Ko => &self.ko,
        }
    }

    /// The message `id` in `locale`; the id itself when there is none (the tests make sure
    /// there always is).
    pub(crate) fn get<'a>(&'a self, locale: Locale, id: &'a str) -> &'a str {
        self.all(locale).get(id).map_or(id, String::as_str)
    }
}

fn parse(text: &str) -> BTreeMap<String, String> {
    toml::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_exactly_the_english_ids_and_no_empty_message() {
        let english: BTreeMap<String, String> = toml::from_str(ENGLISH).unwrap();
        let korean: BTreeMap<String, String> = toml::from_str(KOREAN).unwrap();
        assert!(english.len() > 30);
        assert_eq!(
            english.keys().collect::<Vec<_>>(),
            korean.keys().collect::<Vec<_>>()
        );
        for (id, text) in english.iter().chain(&korean) {
            assert!(!text.trim().is_empty(), "{id}");
        }
        // Placeholders survive translation.
        for (id, text) in &english {
            for placeholder in ["{product}", "{provider}", "{email}"] {
                assert_eq!(
                    text.contains(placeholder),
                    korean[id].contains(placeholder),
                    "{id}: {placeholder}"
                );
            }
        }
    }
}
