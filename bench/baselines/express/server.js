'use strict';
// A tutorial-style Express auth server: a baseline Tessera's benchmark compares against.
//
// Express + bcryptjs (cost 10, async API) + jsonwebtoken (HS256 access tokens that expire after
// 15 minutes), users kept in an in-memory Map, one process. Run: PORT=18191 node server.js
// Environment: PORT (3000), BASELINE_SECRET (JWT signing key).

const express = require('express');
const bcrypt = require('bcryptjs');
const jwt = require('jsonwebtoken');

const SECRET = process.env.BASELINE_SECRET || 'baseline-dev-secret-not-for-production';
const PORT = Number(process.env.PORT || 3000);
const HOST = '127.0.0.1';
const SALT_ROUNDS = 10;
const EXPIRES_IN = 15 * 60; // seconds

const usersByEmail = new Map(); // normalized email -> user
const usersById = new Map(); // id -> user
let nextId = 1;

const app = express();
app.use(express.json());

const normalize = (email) => email.trim().toLowerCase();

// Both fields must be strings; anything else is answered 422, as FastAPI does.
function credentials(req, res) {
  const { email, password } = req.body || {};
  if (typeof email !== 'string' || typeof password !== 'string') {
    res.status(422).json({ detail: 'email and password are required strings' });
    return null;
  }
  return { email: normalize(email), password };
}

app.post('/auth/signup', async (req, res) => {
  const body = credentials(req, res);
  if (!body) return;
  if (usersByEmail.has(body.email)) {
    return res.status(409).json({ detail: 'Email already registered' });
  }
  const passwordHash = await bcrypt.hash(body.password, SALT_ROUNDS);
  // Checked again: another signup for the same email may have finished while this one hashed.
  if (usersByEmail.has(body.email)) {
    return res.status(409).json({ detail: 'Email already registered' });
  }
  const user = { id: nextId++, email: body.email, passwordHash, createdAt: new Date().toISOString() };
  usersByEmail.set(user.email, user);
  usersById.set(user.id, user);
  res.status(201).json({ id: user.id, email: user.email });
});

app.post('/auth/login', async (req, res) => {
  const body = credentials(req, res);
  if (!body) return;
  const user = usersByEmail.get(body.email);
  if (!user || !(await bcrypt.compare(body.password, user.passwordHash))) {
    return res.status(401).json({ detail: 'Incorrect email or password' });
  }
  const accessToken = jwt.sign({ sub: String(user.id) }, SECRET, {
    algorithm: 'HS256',
    expiresIn: EXPIRES_IN,
  });
  res.json({ access_token: accessToken, token_type: 'bearer', expires_in: EXPIRES_IN });
});

function authenticate(req, res, next) {
  const [scheme, token] = (req.get('authorization') || '').split(' ');
  if (!token || scheme.toLowerCase() !== 'bearer') {
    return res.status(401).set('WWW-Authenticate', 'Bearer').json({ detail: 'Not authenticated' });
  }
  let claims;
  try {
    claims = jwt.verify(token, SECRET, { algorithms: ['HS256'] });
  } catch (err) {
    return res.status(401).set('WWW-Authenticate', 'Bearer').json({ detail: 'Could not validate credentials' });
  }
  const user = usersById.get(Number(claims.sub));
  if (!user) {
    return res.status(401).set('WWW-Authenticate', 'Bearer').json({ detail: 'Could not validate credentials' });
  }
  req.user = user;
  next();
}

app.get('/users/me', authenticate, (req, res) => {
  const { id, email, createdAt } = req.user;
  res.json({ id, email, created_at: createdAt });
});

app.listen(PORT, HOST, (err) => {
  if (err) throw err;
  console.log(`baseline express listening on http://${HOST}:${PORT}`);
});
