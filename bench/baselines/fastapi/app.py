"""A tutorial-style FastAPI auth server: the baseline Tessera's benchmark compares against.

The stack of FastAPI's "OAuth2 with Password (and hashing), Bearer with JWT tokens" tutorial:
passlib's bcrypt CryptContext (default cost, 12), python-jose HS256 access tokens that expire
after 15 minutes, and users in SQLite through the standard library's sqlite3 module, one
connection per request via a `Depends(get_db)` dependency.

Run from this directory:
    uvicorn app:app --workers 2 --host 127.0.0.1 --port 18190 --log-level warning
Environment: BASELINE_SECRET (JWT signing key), BASELINE_DB (SQLite file, ./baseline.db).
"""

import os
import sqlite3
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import OAuth2PasswordBearer
from jose import JWTError, jwt
from passlib.context import CryptContext
from pydantic import BaseModel

SECRET_KEY = os.environ.get("BASELINE_SECRET", "baseline-dev-secret-not-for-production")
ALGORITHM = "HS256"
ACCESS_TOKEN_EXPIRE_MINUTES = 15
DB_PATH = os.environ.get("BASELINE_DB", "./baseline.db")

pwd_context = CryptContext(schemes=["bcrypt"], deprecated="auto")
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="auth/login")


def connect() -> sqlite3.Connection:
    # FastAPI may open, use and close the connection on different threadpool threads.
    conn = sqlite3.connect(DB_PATH, timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


@asynccontextmanager
async def lifespan(_app: FastAPI):
    conn = connect()
    try:
        # WAL lets the two workers read while one of them writes.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS users (
                   id INTEGER PRIMARY KEY AUTOINCREMENT,
                   email TEXT NOT NULL UNIQUE,
                   hashed_password TEXT NOT NULL,
                   created_at TEXT NOT NULL
               )"""
        )
        conn.commit()
    finally:
        conn.close()
    yield


app = FastAPI(title="baseline (FastAPI tutorial stack)", lifespan=lifespan)


def get_db() -> Iterator[sqlite3.Connection]:
    conn = connect()
    try:
        yield conn
    finally:
        conn.close()


class Credentials(BaseModel):
    email: str
    password: str


class UserCreated(BaseModel):
    id: int
    email: str


class Token(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


class User(BaseModel):
    id: int
    email: str
    created_at: str


def normalize(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(db: sqlite3.Connection, email: str) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()


def create_access_token(user_id: int) -> str:
    expire = datetime.now(timezone.utc) + timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES)
    return jwt.encode({"sub": str(user_id), "exp": expire}, SECRET_KEY, algorithm=ALGORITHM)


def get_current_user(
    token: str = Depends(oauth2_scheme), db: sqlite3.Connection = Depends(get_db)
) -> sqlite3.Row:
    credentials_exception = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        payload = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])
        user_id = int(payload.get("sub"))
    except (JWTError, TypeError, ValueError):
        raise credentials_exception
    user = db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    if user is None:
        raise credentials_exception
    return user


# Plain `def` endpoints: FastAPI runs them in its threadpool, so bcrypt (which releases the GIL)
# and sqlite3 do not stall the event loop.
@app.post("/auth/signup", status_code=status.HTTP_201_CREATED, response_model=UserCreated)
def signup(body: Credentials, db: sqlite3.Connection = Depends(get_db)):
    email = normalize(body.email)
    if get_user_by_email(db, email) is not None:
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail="Email already registered")
    hashed = pwd_context.hash(body.password)
    created_at = datetime.now(timezone.utc).isoformat()
    try:
        cursor = db.execute(
            "INSERT INTO users (email, hashed_password, created_at) VALUES (?, ?, ?)",
            (email, hashed, created_at),
        )
        db.commit()
    except sqlite3.IntegrityError:
        # Another request signed the same email up while this one was hashing.
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail="Email already registered")
    return UserCreated(id=cursor.lastrowid, email=email)


@app.post("/auth/login", response_model=Token)
def login(body: Credentials, db: sqlite3.Connection = Depends(get_db)):
    user = get_user_by_email(db, normalize(body.email))
    if user is None or not pwd_context.verify(body.password, user["hashed_password"]):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Token(
        access_token=create_access_token(user["id"]),
        token_type="bearer",
        expires_in=ACCESS_TOKEN_EXPIRE_MINUTES * 60,
    )


@app.get("/users/me", response_model=User)
def read_users_me(current_user: sqlite3.Row = Depends(get_current_user)):
    return User(id=current_user["id"], email=current_user["email"], created_at=current_user["created_at"])
