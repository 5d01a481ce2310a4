'use strict';
// Policies with node-vault: addPolicy (legacy `rules` field), getPolicy, policies, removePolicy.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withServer, rejection } = require('../lib/server');

const RULES = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n';

test('addPolicy / getPolicy / policies / removePolicy and enforcement', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = srv.client(srv.rootToken);
    await root.write('secret/data/app/db', { data: { password: 'app' } });
    await root.write('secret/data/other', { data: { password: 'other' } });

    await root.addPolicy({ name: 'app-read', rules: RULES });
    const got = await root.getPolicy({ name: 'app-read' });
    assert.equal(got.rules, RULES);
    assert.equal(got.name, 'app-read');
    const list = await root.policies();
    // node-vault users read the top-level copy of data on sys/ endpoints
    assert.ok(list.policies.includes('app-read'), JSON.stringify(list));
    assert.ok(list.policies.includes('root') && list.policies.includes('default'));
    assert.deepEqual(list.data.policies, list.policies);

    const token = (await srv.client(srv.rootToken).tokenCreate({ policies: ['app-read'], ttl: '1h' })).auth.client_token;
    const reader = srv.client(token);
    assert.deepEqual((await reader.read('secret/data/app/db')).data.data, { password: 'app' });
    assert.equal((await rejection(reader.read('secret/data/other'))).response.statusCode, 403);
    assert.equal((await rejection(reader.write('secret/data/app/db', { data: { password: 'no' } }))).response.statusCode, 403);
    assert.equal((await rejection(reader.mounts())).response.statusCode, 403);

    // node-vault's own example policy uses the legacy `policy = "write"` form
    await root.addPolicy({ name: 'legacy', rules: '{"path":{"secret/*":{"policy":"write"}}}' });
    const legacyToken = (await srv.client(srv.rootToken).tokenCreate({ policies: ['legacy'], ttl: '1h' })).auth.client_token;
    await srv.client(legacyToken).write('secret/data/legacy', { data: { ok: 'yes' } });

    await root.removePolicy({ name: 'app-read' });
    assert.ok(!(await root.policies()).policies.includes('app-read'));
    assert.equal((await rejection(reader.read('secret/data/app/db'))).response.statusCode, 403);
  });
});
