//! Movies and favourites.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tessera_verify::{Admin, AuthUser, RequireRole};

use crate::AppState;

/// A movie.
#[derive(Debug, Clone, Serialize)]
pub struct Movie {
    id: u64,
    title: String,
    year: u16,
}

/// Body of `POST /movies`.
#[derive(Debug, Deserialize)]
pub struct NewMovie {
    title: String,
    year: u16,
}

/// Body of `POST /me/favorites`.
#[derive(Debug, Deserialize)]
pub struct Favorite {
    movie_id: u64,
}

/// The movies and each user's favourites, in memory.
#[derive(Debug, Default)]
pub struct Catalog {
    movies: Mutex<BTreeMap<u64, Movie>>,
    favorites: Mutex<HashMap<String, BTreeSet<u64>>>,
}

impl Catalog {
    /// A catalog with a few movies.
    pub fn with_classics() -> Self {
        let catalog = Self::default();
        for (title, year) in [("Metropolis", 1927), ("Casablanca", 1942), ("Alien", 1979)] {
            catalog.insert(title.to_owned(), year);
        }
        catalog
    }

    fn insert(&self, title: String, year: u16) -> Movie {
        let mut movies = self.movies.lock().unwrap_or_else(|p| p.into_inner());
        let id = movies.keys().next_back().map_or(1, |last| last + 1);
        let movie = Movie { id, title, year };
        movies.insert(id, movie.clone());
        movie
    }

    fn exists(&self, id: u64) -> bool {
        self.movies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&id)
    }

    fn favorites_of(&self, user: &str) -> Vec<Movie> {
        let movies = self.movies.lock().unwrap_or_else(|p| p.into_inner());
        let favorites = self.favorites.lock().unwrap_or_else(|p| p.into_inner());
        let ids = favorites.get(user).cloned().unwrap_or_default();
        ids.iter()
            .filter_map(|id| movies.get(id).cloned())
            .collect()
    }
}

/// `GET /movies`: anyone.
pub async fn list(State(state): State<AppState>) -> Json<Vec<Movie>> {
    Json(
        state
            .catalog
            .movies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect(),
    )
}

/// `POST /movies`: the `admin` role only.
pub async fn add(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    Json(movie): Json<NewMovie>,
) -> (StatusCode, Json<Movie>) {
    (
        StatusCode::CREATED,
        Json(state.catalog.insert(movie.title, movie.year)),
    )
}

/// `GET /me/favorites`: the caller's favourites (the token's `sub` is the user).
pub async fn favorites(State(state): State<AppState>, user: AuthUser) -> Json<Vec<Movie>> {
    Json(state.catalog.favorites_of(&user.sub))
}

/// `POST /me/favorites`.
pub async fn add_favorite(
    State(state): State<AppState>,
    user: AuthUser,
    Json(favorite): Json<Favorite>,
) -> Result<Json<Vec<Movie>>, StatusCode> {
    if !state.catalog.exists(favorite.movie_id) {
        return Err(StatusCode::NOT_FOUND);
    }
    state
        .catalog
        .favorites
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(user.sub.clone())
        .or_default()
        .insert(favorite.movie_id);
    Ok(Json(state.catalog.favorites_of(&user.sub)))
}

/// `DELETE /me/favorites/{movie_id}`.
pub async fn remove_favorite(
    State(state): State<AppState>,
    user: AuthUser,
    Path(movie_id): Path<u64>,
) -> StatusCode {
    let mut favorites = state
        .catalog
        .favorites
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let removed = favorites
        .get_mut(&user.sub)
        .is_some_and(|ids| ids.remove(&movie_id));
    if removed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
