'use strict';
// Token create / lookup-self / renew-self / revoke with node-vault.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withServer, rejection, waitUntil } = require('../lib/server');

test('tokenCreate, tokenLookupSelf, tokenRenewSelf, tokenRevoke', async () => {
  await withServer({ dev: true }, async (srv) => {
    const admin = srv.client(srv.rootToken);
    const created = await admin.tokenCreate({ policies: ['default'], ttl: '1h', meta: { app: 'web' } });
    const token = created.auth.client_token;
    assert.match(token, /^hvs\./);
    assert.equal(created.auth.lease_duration, 3600);
    assert.equal(created.auth.renewable, true);
    // tokenCreate is a token source: the client now carries the new token
    assert.equal(admin.token, token);

    const user = srv.client(token);
    const self = await user.tokenLookupSelf();
    assert.equal(self.data.id, token);
    assert.ok(self.data.ttl > 3500 && self.data.ttl <= 3600, `ttl ${self.data.ttl}`);
    assert.deepEqual(self.data.policies, ['default']);
    assert.deepEqual(self.data.meta, { app: 'web' });

    const renewed = await user.tokenRenewSelf({ increment: '2h' });
    assert.ok(renewed.auth.lease_duration > 7100 && renewed.auth.lease_duration <= 7200);
    assert.equal(renewed.auth.renewable, true);
    const renewedInt = await user.tokenRenewSelf({ increment: 600 });
    assert.ok(renewedInt.auth.lease_duration > 500 && renewedInt.auth.lease_duration <= 600);

    const root = srv.client(srv.rootToken);
    const looked = await root.tokenLookup({ token });
    assert.equal(looked.data.accessor, created.auth.accessor);

    await root.tokenRevoke({ token });
    const err = await rejection(user.tokenLookupSelf());
    assert.equal(err.response.statusCode, 403);
  });
});

test('child tokens die with their parent; short TTL expires', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = srv.client(srv.rootToken);
    await root.addPolicy({ name: 'creator', rules: 'path "auth/token/create" { capabilities = ["update"] }' });
    const parent = (await srv.client(srv.rootToken).tokenCreate({ policies: ['creator'], ttl: '1h' })).auth.client_token;
    const child = (await srv.client(parent).tokenCreate({ ttl: '30m' })).auth.client_token;
    assert.equal((await srv.client(child).tokenLookupSelf()).data.id, child);
    await root.tokenRevoke({ token: parent });
    assert.equal((await rejection(srv.client(child).tokenLookupSelf())).response.statusCode, 403);

    const short = (await srv.client(srv.rootToken).tokenCreate({ policies: ['default'], ttl: '2s' })).auth.client_token;
    await srv.client(short).tokenLookupSelf();
    await waitUntil(async () => {
      try { await srv.client(short).tokenLookupSelf(); return false; } catch (e) { return e.response && e.response.statusCode === 403; }
    }, 10000, 'a 2-second token to expire');
  });
});
