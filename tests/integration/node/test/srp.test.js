'use strict';
// auth/srp (docs/internals/auth.md, SRP) driven by a third-party SRP-6a client: npm fast-srp-hap
// 2.0.4 with SRP.params[3072] (RFC 5054 3072-bit group, g = 5, SHA-256, RFC 2945
// M1/M2). It computes salts and verifiers for registration and every login value;
// coffer's own code is only on the server side here.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { SRP, SrpClient } = require('fast-srp-hap');
const { withServer, waitUntil } = require('../lib/server');

const params = SRP.params[3072];
const N_HEX = params.N.toString(16).padStart(768, '0');
const BAD_LOGIN = '{"errors":["invalid username or password"]}';
const BAD_SESSION = '{"errors":["invalid or expired session"]}';
const LOCKED = '{"errors":["too many failed login attempts, try again later"]}';

// One raw HTTP request: exact status, headers and body bytes (node-vault hides them).
function api(srv, method, path, body, { token, localAddress } = {}) {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers = { 'Content-Type': 'application/json' };
  if (data) headers['Content-Length'] = data.length;
  if (token) headers['X-Vault-Token'] = token;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, path: `/v1/${path}`, method, headers, localAddress, timeout: 15000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch (_e) { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`timeout on ${method} ${path}`)));
    if (data) req.write(data);
    req.end();
  });
}

async function enableSrp(srv) {
  const r = await api(srv, 'POST', 'sys/auth/srp', { type: 'srp' }, { token: srv.rootToken });
  assert.equal(r.status, 204, r.text);
}

// Registration as a client does it: its own salt, the verifier PAD(g^x mod N).
function enrolment(username, password) {
  const salt = crypto.randomBytes(32);
  const v = SRP.computeVerifier(params, salt, Buffer.from(username), Buffer.from(password));
  return { salt: salt.toString('hex'), verifier: v.toString('hex').padStart(768, '0') };
}

async function register(srv, username, password, extra = {}, token = srv.rootToken) {
  const r = await api(srv, 'POST', `auth/srp/users/${username}`, { ...enrolment(username, password), ...extra }, { token });
  return r;
}

// login/init with a fresh a; returns what the rest of the exchange needs.
async function init(srv, username, opts = {}) {
  const a = crypto.randomBytes(32);
  // A = g^a does not depend on the salt: any salt gives the same A here.
  const A = new SrpClient(params, Buffer.alloc(32), Buffer.from(username), Buffer.from('-'), a, true).computeA();
  const res = await api(srv, 'POST', 'auth/srp/login/init', { username, A: A.toString('hex') }, opts);
  return { a, A, res };
}

// The whole login; returns the verify answer and the client (for M2).
async function login(srv, username, password, opts = {}) {
  const { a, res } = await init(srv, username, opts);
  assert.equal(res.status, 200, `init: ${res.text}`);
  const { session, salt, B } = res.json.data;
  const client = new SrpClient(params, Buffer.from(salt, 'hex'), Buffer.from(username), Buffer.from(password), a, true);
  client.setB(Buffer.from(B, 'hex'));
  const M1 = client.computeM1().toString('hex');
  const ver = await api(srv, 'POST', 'auth/srp/login/verify', { session, M1 }, opts);
  return { ver, client, session, M1 };
}

function assertInitShape(res) {
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(Object.keys(res.json.data).sort(), ['B', 'salt', 'session']);
  assert.match(res.json.data.session, /^[0-9a-f]{64}$/);
  assert.match(res.json.data.salt, /^[0-9a-f]{64}$/);
  assert.match(res.json.data.B, /^[0-9a-f]{768}$/);
  assert.equal(res.json.auth, null);
}

test('params, registration, login with M2, token use and its limits', async () => {
  await withServer({ dev: true }, async (srv) => {
    await enableSrp(srv);
    const p = await api(srv, 'GET', 'auth/srp/params');
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json.data, { group: 'rfc5054-3072', N: N_HEX, g: '05', hash: 'sha256', salt_bytes: 32, encoding: 'hex' });

    const admin = srv.client(srv.rootToken);
    await admin.addPolicy({ name: 'dev', rules: 'path "secret/data/dev/*" { capabilities = ["create", "update", "read"] }' });
    const reg = await register(srv, 'alice', 'correct horse', { token_policies: ['dev'], token_ttl: '1h' });
    assert.equal(reg.status, 204, reg.text);

    const read = await api(srv, 'GET', 'auth/srp/users/alice', undefined, { token: srv.rootToken });
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.json.data.token_policies, ['dev']);
    assert.equal(read.json.data.token_ttl, 3600);
    assert.ok(!('verifier' in read.json.data), 'a read never returns the verifier');
    const list = await api(srv, 'LIST', 'auth/srp/users', undefined, { token: srv.rootToken });
    assert.deepEqual(list.json.data.keys, ['alice']);
    const listGet = await api(srv, 'GET', 'auth/srp/users?list=true', undefined, { token: srv.rootToken });
    assert.deepEqual(listGet.json.data.keys, ['alice']);
    assert.equal((await api(srv, 'GET', 'auth/srp/users/nobody', undefined, { token: srv.rootToken })).status, 404);

    const { ver, client } = await login(srv, 'alice', 'correct horse');
    assert.equal(ver.status, 200, ver.text);
    assert.match(ver.json.data.M2, /^[0-9a-f]{64}$/);
    client.checkM2(Buffer.from(ver.json.data.M2, 'hex')); // throws unless the server knows v
    const auth = ver.json.auth;
    assert.match(auth.client_token, /^hvs\./);
    assert.deepEqual(auth.policies, ['default', 'dev']);
    assert.deepEqual(auth.token_policies, ['default', 'dev']);
    assert.deepEqual(auth.metadata, { username: 'alice' });
    assert.equal(auth.lease_duration, 3600);
    assert.equal(auth.renewable, true);
    assert.equal(auth.token_type, 'service');
    assert.equal(auth.orphan, true);

    const self = await api(srv, 'GET', 'auth/token/lookup-self', undefined, { token: auth.client_token });
    assert.equal(self.status, 200, self.text);
    assert.equal(self.json.data.display_name, 'srp-alice');
    assert.deepEqual(self.json.data.meta, { username: 'alice' });
    assert.equal(self.json.data.path, 'auth/srp/login/verify');
    assert.deepEqual(self.json.data.policies, ['default', 'dev']);

    const user = srv.client(auth.client_token);
    await user.write('secret/data/dev/app', { data: { k: 'v' } });
    assert.equal((await user.read('secret/data/dev/app')).data.data.k, 'v');
    const denied = await api(srv, 'GET', 'secret/data/ops/app', undefined, { token: auth.client_token });
    assert.equal(denied.status, 403);
    const noUsers = await api(srv, 'LIST', 'auth/srp/users', undefined, { token: auth.client_token });
    assert.equal(noUsers.status, 403);

    // a new password (same endpoint) keeps the token fields
    assert.equal((await register(srv, 'alice', 'new password')).status, 204);
    assert.equal((await login(srv, 'alice', 'correct horse')).ver.text, BAD_LOGIN);
    const again = await login(srv, 'alice', 'new password');
    assert.equal(again.ver.status, 200, again.ver.text);
    assert.deepEqual(again.ver.json.auth.policies, ['default', 'dev']);
  });
});

test('registration needs a token with create/update on the user path; input checks', async () => {
  await withServer({ dev: true }, async (srv) => {
    await enableSrp(srv);
    const noToken = await api(srv, 'POST', 'auth/srp/users/bob', enrolment('bob', 'pw'));
    assert.equal(noToken.status, 403);
    assert.equal(noToken.text.trim(), '{"errors":["permission denied"]}');

    // self enrolment: a short-lived token that may update exactly one path
    const admin = srv.client(srv.rootToken);
    await admin.addPolicy({ name: 'enrol-dave', rules: 'path "auth/srp/users/dave" { capabilities = ["create", "update"] }' });
    const enrol = (await admin.tokenCreate({ policies: ['enrol-dave'], ttl: '5m' })).auth.client_token;
    assert.equal((await register(srv, 'eve', 'pw', {}, enrol)).status, 403);
    assert.equal((await register(srv, 'dave', 'dave pw', {}, enrol)).status, 204);
    assert.equal((await login(srv, 'dave', 'dave pw')).ver.status, 200);

    const t = { token: srv.rootToken };
    const good = enrolment('bob', 'pw');
    const bad = async (name, body) => (await api(srv, 'POST', `auth/srp/users/${name}`, body, t)).status;
    assert.equal(await bad('Bob', good), 400);
    assert.equal(await bad('.bob', good), 400);
    assert.equal(await bad('bob', { ...good, salt: good.salt.slice(2) }), 400);
    assert.equal(await bad('bob', { ...good, salt: `${good.salt}00` }), 400);
    assert.equal(await bad('bob', { ...good, verifier: good.verifier.slice(2) }), 400);
    assert.equal(await bad('bob', { ...good, verifier: '0'.repeat(768) }), 400);
    assert.equal(await bad('bob', { ...good, verifier: `${'0'.repeat(767)}1` }), 400);
    assert.equal(await bad('bob', { ...good, verifier: N_HEX }), 400);
    assert.equal(await bad('bob', { ...good, verifier: 'f'.repeat(768) }), 400);
    assert.equal(await bad('bob', { salt: good.salt }), 400);
    // upper-case hex is accepted
    assert.equal(await bad('bob', { salt: good.salt.toUpperCase(), verifier: good.verifier.toUpperCase() }), 204);
  });
});

test('wrong password, replayed and foreign sessions, invalid A', async () => {
  await withServer({ dev: true }, async (srv) => {
    await enableSrp(srv);
    assert.equal((await register(srv, 'alice', 'right')).status, 204);

    const wrong = await login(srv, 'alice', 'wrong');
    assert.equal(wrong.ver.status, 400);
    assert.equal(wrong.ver.text.trim(), BAD_LOGIN);

    const ok = await login(srv, 'alice', 'right');
    assert.equal(ok.ver.status, 200);
    // replay of a verify that worked: the session was used up
    const replay = await api(srv, 'POST', 'auth/srp/login/verify', { session: ok.session, M1: ok.M1 });
    assert.equal(replay.status, 400);
    assert.equal(replay.text.trim(), BAD_SESSION);
    // a failed verify uses the session up as well
    const replayWrong = await api(srv, 'POST', 'auth/srp/login/verify', { session: wrong.session, M1: wrong.M1 });
    assert.equal(replayWrong.text.trim(), BAD_SESSION);
    // a session nobody was given
    const foreign = await api(srv, 'POST', 'auth/srp/login/verify', { session: crypto.randomBytes(32).toString('hex'), M1: ok.M1 });
    assert.equal(foreign.status, 400);
    assert.equal(foreign.text.trim(), BAD_SESSION);
    // malformed bodies
    assert.equal((await api(srv, 'POST', 'auth/srp/login/verify', { session: 'zz', M1: ok.M1 })).status, 400);
    assert.equal((await api(srv, 'POST', 'auth/srp/login/verify', {})).status, 400);

    // A = 0, A = N, A = 2N, A > N, junk: 400 and no session
    const N = BigInt(`0x${N_HEX}`);
    for (const A of ['0', '00'.repeat(384), N_HEX, (2n * N).toString(16), (N + 1n).toString(16), 'xyz', '']) {
      const r = await api(srv, 'POST', 'auth/srp/login/init', { username: 'alice', A });
      assert.equal(r.status, 400, `A=${A.slice(0, 16)}...: ${r.text}`);
      assert.equal(r.text.trim(), '{"errors":["invalid A"]}');
    }
    const noA = await api(srv, 'POST', 'auth/srp/login/init', { username: 'alice' });
    assert.equal(noA.text.trim(), '{"errors":["invalid A"]}');
    const badUser = await init(srv, 'Alice');
    assert.equal(badUser.res.status, 400);
    assert.equal(badUser.res.text.trim(), '{"errors":["invalid username"]}');

    // a client-side SRP library refuses a B of 0 mod N: check ours never sends one
    const { res } = await init(srv, 'alice');
    assert.notEqual(BigInt(`0x${res.json.data.B}`) % N, 0n);
  });
});

test('unknown and deleted users are answered like known ones', async () => {
  await withServer({ dev: true }, async (srv) => {
    await enableSrp(srv);
    assert.equal((await register(srv, 'alice', 'right')).status, 204);

    const known = (await init(srv, 'alice')).res;
    const unknown1 = (await init(srv, 'nobody')).res;
    const unknown2 = (await init(srv, 'nobody')).res;
    assertInitShape(known);
    assertInitShape(unknown1);
    assertInitShape(unknown2);
    assert.deepEqual(Object.keys(unknown1.json).sort(), Object.keys(known.json).sort());
    assert.equal(unknown1.json.data.salt, unknown2.json.data.salt, 'a stable fake salt');
    assert.notEqual(unknown1.json.data.B, unknown2.json.data.B, 'a fresh b each time');
    assert.notEqual((await init(srv, 'nobody2')).res.json.data.salt, unknown1.json.data.salt);

    const wrongKnown = await login(srv, 'alice', 'guess');
    const wrongUnknown = await login(srv, 'nobody', 'guess');
    assert.equal(wrongUnknown.ver.status, wrongKnown.ver.status);
    assert.equal(wrongUnknown.ver.text, wrongKnown.ver.text, 'byte-identical failure bodies');
    assert.equal(wrongUnknown.ver.text.trim(), BAD_LOGIN);

    // deleted between init and verify: the verify fails like a wrong password
    assert.equal((await register(srv, 'bob', 'bob pw')).status, 204);
    const regSalt = (await api(srv, 'GET', 'auth/srp/users/bob', undefined, { token: srv.rootToken })).json.data.salt;
    const { a, res } = await init(srv, 'bob');
    assert.equal(res.json.data.salt, regSalt);
    const del = await api(srv, 'DELETE', 'auth/srp/users/bob', undefined, { token: srv.rootToken });
    assert.equal(del.status, 204);
    const client = new SrpClient(params, Buffer.from(res.json.data.salt, 'hex'), Buffer.from('bob'), Buffer.from('bob pw'), a, true);
    client.setB(Buffer.from(res.json.data.B, 'hex'));
    const ver = await api(srv, 'POST', 'auth/srp/login/verify', { session: res.json.data.session, M1: client.computeM1().toString('hex') });
    assert.equal(ver.status, 400);
    assert.equal(ver.text, wrongKnown.ver.text);
    // and a deleted user's init looks like any unknown user's
    const after = (await init(srv, 'bob')).res;
    assertInitShape(after);
    assert.notEqual(after.json.data.salt, regSalt);
  });
});

test('lockout: 5 failures lock known and unknown names alike, others unaffected', async () => {
  await withServer({ dev: true }, async (srv) => {
    await enableSrp(srv);
    for (const u of ['carol', 'alice']) assert.equal((await register(srv, u, `${u} pw`)).status, 204);

    for (const name of ['carol', 'mallory']) {
      for (let i = 0; i < 5; i++) {
        const { ver } = await login(srv, name, `guess ${i}`);
        assert.equal(ver.text.trim(), BAD_LOGIN, `${name} failure ${i + 1}`);
      }
    }
    const lockedKnown = (await init(srv, 'carol')).res;
    const lockedUnknown = (await init(srv, 'mallory')).res;
    assert.equal(lockedKnown.status, 429);
    assert.equal(lockedUnknown.status, 429);
    assert.equal(lockedKnown.text.trim(), LOCKED);
    assert.equal(lockedKnown.text, lockedUnknown.text, 'byte-identical 429 bodies');
    for (const r of [lockedKnown, lockedUnknown]) {
      const ra = Number(r.headers['retry-after']);
      assert.ok(ra > 850 && ra <= 900, `Retry-After ${r.headers['retry-after']}`);
    }
    // the right password does not get through a lock either
    assert.equal((await init(srv, 'carol')).res.status, 429);
    // other names log in as usual
    const alice = await login(srv, 'alice', 'alice pw');
    assert.equal(alice.ver.status, 200, alice.ver.text);
    assert.equal((await init(srv, 'someone-else')).res.status, 200);
  });
});

test('lockout: a success resets the count; sessions opened before a lock fail', async () => {
  await withServer({ dev: true }, async (srv) => {
    await enableSrp(srv);
    assert.equal((await register(srv, 'dave', 'dave pw')).status, 204);
    for (let i = 0; i < 4; i++) assert.equal((await login(srv, 'dave', 'guess')).ver.status, 400);
    assert.equal((await login(srv, 'dave', 'dave pw')).ver.status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await login(srv, 'dave', 'guess')).ver.status, 400);
    assert.equal((await init(srv, 'dave')).res.status, 200, 'only 4 failures since the success');

    // open a session, then lock the name with 5 failures: the open session,
    // with the right password, is refused like a wrong one
    const pending = await init(srv, 'dave');
    assert.equal((await login(srv, 'dave', 'guess')).ver.status, 400); // 5th since the success
    assert.equal((await init(srv, 'dave')).res.status, 429);
    const { session, salt, B } = pending.res.json.data;
    const client = new SrpClient(params, Buffer.from(salt, 'hex'), Buffer.from('dave'), Buffer.from('dave pw'), pending.a, true);
    client.setB(Buffer.from(B, 'hex'));
    const ver = await api(srv, 'POST', 'auth/srp/login/verify', { session, M1: client.computeM1().toString('hex') });
    assert.equal(ver.status, 400);
    assert.equal(ver.text.trim(), BAD_LOGIN);
  });
});

test('per-address limit: the 121st init within a minute is refused', async () => {
  await withServer({ dev: true }, async (srv) => {
    await enableSrp(srv);
    const A = new SrpClient(params, Buffer.alloc(32), Buffer.from('x'), Buffer.from('-'), crypto.randomBytes(32), true).computeA().toString('hex');
    const started = Date.now();
    for (let i = 0; i < 120; i++) {
      const r = await api(srv, 'POST', 'auth/srp/login/init', { username: `user${i % 7}`, A });
      assert.equal(r.status, 200, `init ${i + 1}: ${r.text}`);
    }
    const over = await api(srv, 'POST', 'auth/srp/login/init', { username: 'user0', A });
    assert.ok(Date.now() - started < 60000, 'the 120 inits took under a minute');
    assert.equal(over.status, 429);
    assert.equal(over.text.trim(), '{"errors":["rate limit exceeded"]}');
    assert.ok(Number(over.headers['retry-after']) >= 1);
    // another source address is not affected
    const other = await api(srv, 'POST', 'auth/srp/login/init', { username: 'user0', A }, { localAddress: '127.0.0.2' });
    assert.equal(other.status, 200, other.text);
  });
});

test('sessions expire after auth/srp/config session_ttl', async () => {
  await withServer({ dev: true }, async (srv) => {
    await enableSrp(srv);
    const t = { token: srv.rootToken };
    assert.equal((await api(srv, 'GET', 'auth/srp/config', undefined, t)).json.data.session_ttl, 60);
    assert.equal((await api(srv, 'POST', 'auth/srp/config', { session_ttl: '2s' })).status, 403);
    assert.equal((await api(srv, 'POST', 'auth/srp/config', { session_ttl: 0 }, t)).status, 400);
    assert.equal((await api(srv, 'POST', 'auth/srp/config', { session_ttl: '2s' }, t)).status, 204);
    assert.equal((await api(srv, 'GET', 'auth/srp/config', undefined, t)).json.data.session_ttl, 2);
    assert.equal((await register(srv, 'alice', 'pw')).status, 204);

    const { a, res } = await init(srv, 'alice');
    const client = new SrpClient(params, Buffer.from(res.json.data.salt, 'hex'), Buffer.from('alice'), Buffer.from('pw'), a, true);
    client.setB(Buffer.from(res.json.data.B, 'hex'));
    const started = Date.now();
    await waitUntil(async () => Date.now() - started > 2300, 5000, 'the session to expire');
    const ver = await api(srv, 'POST', 'auth/srp/login/verify', { session: res.json.data.session, M1: client.computeM1().toString('hex') });
    assert.equal(ver.status, 400);
    assert.equal(ver.text.trim(), BAD_SESSION);
    // within the lifetime the same login works
    assert.equal((await login(srv, 'alice', 'pw')).ver.status, 200);
  });
});

test('neither the password nor the verifier reaches the server log', async () => {
  await withServer({ dev: true }, async (srv) => {
    await enableSrp(srv);
    const password = `pw-${crypto.randomBytes(8).toString('hex')}`;
    const e = enrolment('alice', password);
    assert.equal((await api(srv, 'POST', 'auth/srp/users/alice', e, { token: srv.rootToken })).status, 204);
    const { ver } = await login(srv, 'alice', password);
    assert.equal(ver.status, 200);
    await login(srv, 'alice', `${password}x`);
    const log = srv.log();
    assert.ok(!log.includes(password), 'password in the log');
    assert.ok(!log.includes(e.verifier), 'verifier in the log');
    assert.ok(!log.includes(ver.json.auth.client_token), 'token in the log');
  });
});
