//! The fake GitHub: PKCE and single-use codes at its token endpoint, its answer formats, and
//! the user and emails it was given.

use reqwest::{StatusCode, Url};
use serde_json::Value;
use tessera_testkit::{FakeGithub, FakeGithubUser, GithubEmail, pkce};

use crate::{REDIRECT_URI, query_param};

#[tokio::test]
async fn a_code_is_traded_only_with_its_verifier_and_only_once() {
    // Arrange
    let github = FakeGithub::start().await;
    let verifier = pkce::new_verifier();
    let refused_code = github_code(&github, &verifier).await;
    let code = github_code(&github, &verifier).await;

    // Act
    let wrong = github_token(&github, &refused_code, &pkce::new_verifier()).await;
    let right = github_token(&github, &code, &verifier).await;
    let again = github_token(&github, &code, &verifier).await;

    // Assert
    assert_eq!(wrong.0, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.1["error"], "invalid_grant");
    assert_eq!(right.0, StatusCode::OK);
    assert_eq!(right.1["token_type"], "bearer");
    assert_eq!(right.1["scope"], "read:user,user:email");
    assert!(right.1["access_token"].is_string());
    assert_eq!(again.1["error"], "invalid_grant");
    assert_eq!(github.token_requests(), 3);
}

#[tokio::test]
async fn the_user_it_was_given_is_served_with_a_numeric_id_and_its_emails() {
    // Arrange
    let github = FakeGithub::start().await;
    github.set_user(FakeGithubUser {
        id: 583231,
        login: "erin".to_owned(),
        name: None,
        emails: vec![
            email("erin@old.example", false, false),
            email("erin@example.test", true, true),
        ],
    });
    let verifier = pkce::new_verifier();
    let code = github_code(&github, &verifier).await;
    let (_, token) = github_token(&github, &code, &verifier).await;
    let access_token = token["access_token"].as_str().expect("an access token");

    // Act
    let user = github_api(&github, "/user", access_token).await;
    let emails = github_api(&github, "/user/emails", access_token).await;

    // Assert
    assert_eq!(user["id"], 583231);
    assert!(user["id"].is_u64());
    assert_eq!(user["login"], "erin");
    assert!(user["name"].is_null() && user["email"].is_null());
    assert_eq!(emails[0]["email"], "erin@old.example");
    assert_eq!(emails[0]["verified"], false);
    assert_eq!(emails[1]["email"], "erin@example.test");
    assert_eq!(
        (&emails[1]["verified"], &emails[1]["primary"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
}

#[tokio::test]
async fn the_token_endpoint_answers_form_encoded_unless_json_is_asked_for() {
    // Arrange
    let github = FakeGithub::start().await;
    let verifier = pkce::new_verifier();
    let code = github_code(&github, &verifier).await;

    // Act
    let response = reqwest::Client::new()
        .post(format!("{}/login/oauth/access_token", github.base_url()))
        .basic_auth(github.client_id(), Some(github.client_secret()))
        .form(&github_token_form(&code, &verifier))
        .send()
        .await
        .expect("the token endpoint answers");

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("a body");
    assert!(body.starts_with("access_token=gho_"), "{body}");
    assert!(body.contains("token_type=bearer"), "{body}");
}

fn email(address: &str, verified: bool, primary: bool) -> GithubEmail {
    GithubEmail {
        email: address.to_owned(),
        verified,
        primary,
    }
}

/// The code of an authorization at the fake GitHub, read from its redirect.
async fn github_code(github: &FakeGithub, verifier: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let mut url = Url::parse(&format!("{}/login/oauth/authorize", github.base_url()))
        .expect("the authorize URL parses");
    url.query_pairs_mut()
        .append_pair("client_id", &github.client_id())
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("state", "state-3")
        .append_pair("scope", "read:user user:email")
        .append_pair("code_challenge", &pkce::s256_challenge(verifier))
        .append_pair("code_challenge_method", "S256");
    let response = client.get(url).send().await.expect("authorize answers");
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("an ASCII Location");
    let callback = Url::parse(location).expect("the Location parses");
    assert_eq!(query_param(&callback, "state").as_deref(), Some("state-3"));
    query_param(&callback, "code").expect("a code")
}

fn github_token_form<'a>(code: &'a str, verifier: &'a str) -> [(&'static str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
    ]
}

/// The token endpoint's status and JSON answer, with the client in the form as GitHub's docs do.
async fn github_token(github: &FakeGithub, code: &str, verifier: &str) -> (StatusCode, Value) {
    let client_id = github.client_id();
    let client_secret = github.client_secret();
    let mut form = github_token_form(code, verifier).to_vec();
    form.extend([
        ("client_id", client_id.as_str()),
        ("client_secret", client_secret.as_str()),
    ]);
    let response = reqwest::Client::new()
        .post(format!("{}/login/oauth/access_token", github.base_url()))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .expect("the token endpoint answers");
    let status = response.status();
    (
        status,
        response.json().await.expect("JSON from the token endpoint"),
    )
}

async fn github_api(github: &FakeGithub, path: &str, access_token: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", github.base_url()))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("the API answers");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.expect("JSON from the API")
}
