//! The presets through the public constructor: each builds from a client id and secret alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use tessera_core::SystemClock;
use tessera_upstream::{
    ProviderKind, ProviderSettings, UpstreamConfigError, UpstreamProvider, build_providers,
    http_client,
};

fn client_of(preset: &str) -> ProviderSettings {
    ProviderSettings {
        preset: preset.to_owned(),
        client_id: "id".to_owned(),
        client_secret: "secret".into(),
        ..ProviderSettings::default()
    }
}

#[test]
fn every_preset_builds_with_only_its_client_credentials() {
    let kinds = [
        ("google", ProviderKind::Oidc),
        ("microsoft", ProviderKind::Oidc),
        ("github", ProviderKind::OAuth2),
        ("spotify", ProviderKind::OAuth2),
        ("kakao", ProviderKind::OAuth2),
        ("naver", ProviderKind::OAuth2),
    ];
    for (preset, kind) in kinds {
        let mut settings = client_of(preset);
        if preset == "microsoft" {
            settings.issuer = "https://login.microsoftonline.com/0000-tenant/v2.0".into();
        }
        let provider = UpstreamProvider::new(preset, settings, http_client().unwrap())
            .unwrap_or_else(|err| panic!("{preset}: {err}"));
        assert_eq!(provider.kind(), kind, "{preset}");
        assert_eq!(provider.name(), preset);
    }
}

#[test]
fn microsoft_needs_the_tenants_issuer() {
    let result = UpstreamProvider::new("microsoft", client_of("microsoft"), http_client().unwrap());

    let Err(err) = result else {
        panic!("the common issuer cannot pass the issuer check")
    };
    assert!(
        matches!(err, UpstreamConfigError::MissingIssuer { .. }),
        "{err}"
    );
}

#[test]
fn an_unknown_preset_is_a_configuration_error() {
    let result = UpstreamProvider::new("fb", client_of("facebook"), http_client().unwrap());

    let Err(err) = result else {
        panic!("facebook is no preset")
    };
    assert!(matches!(err, UpstreamConfigError::UnknownPreset { .. }));
    assert_eq!(
        err.to_string(),
        "oauth.providers.fb: unknown preset \"facebook\"; use one of google, microsoft, github, spotify, kakao, naver, or leave it empty"
    );
}

#[test]
fn build_providers_reports_every_broken_table() {
    let settings = BTreeMap::from([
        ("google".to_owned(), client_of("google")),
        ("bad".to_owned(), client_of("myspace")),
        ("empty".to_owned(), ProviderSettings::default()),
    ]);

    let errors = build_providers(settings, &http_client().unwrap(), Arc::new(SystemClock))
        .err()
        .expect("two tables are broken");

    assert_eq!(errors.len(), 2);
}

#[test]
fn build_providers_builds_every_good_table() {
    let settings = BTreeMap::from([
        ("google".to_owned(), client_of("google")),
        ("github".to_owned(), client_of("github")),
    ]);

    let providers =
        build_providers(settings, &http_client().unwrap(), Arc::new(SystemClock)).unwrap();

    assert_eq!(providers.keys().collect::<Vec<_>>(), ["github", "google"]);
}
