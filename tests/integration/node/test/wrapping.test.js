'use strict';
// Response wrapping with node-vault: a read wrapped with X-Vault-Wrap-TTL, then
// unwrap (once), and write + unwrap of an AppRole secret ID.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withServer, rejection } = require('../lib/server');

// a fresh object per call: node-vault adds X-Vault-Token to the headers it is given
const wrap = () => ({ headers: { 'X-Vault-Wrap-TTL': '5m' } });

test('read wrapped, unwrap once', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = srv.client(srv.rootToken);
    await root.write('secret/data/app', { data: { password: 'node-wrapped' } });
    const wrapped = await root.read('secret/data/app', wrap());
    assert.equal(wrapped.data, null);
    assert.equal(wrapped.wrap_info.ttl, 300);
    assert.equal(wrapped.wrap_info.creation_path, 'secret/data/app');
    assert.ok(!JSON.stringify(wrapped).includes('node-wrapped'));

    const out = await root.unwrap({ token: wrapped.wrap_info.token });
    assert.deepEqual(out.data.data, { password: 'node-wrapped' });
    const err = await rejection(root.unwrap({ token: wrapped.wrap_info.token }));
    assert.equal(err.response.statusCode, 400);
    assert.match(JSON.stringify(err.response.body), /wrapping token is not valid or does not exist/);
  });
});

test('AppRole secret ID wrapped, unwrapped by its holder, then login', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = srv.client(srv.rootToken);
    await root.write('sys/auth/approle', { type: 'approle' });
    await root.write('auth/approle/role/ci', { token_policies: 'default' });
    const roleId = (await root.read('auth/approle/role/ci/role-id')).data.role_id;
    const wrapped = await root.write('auth/approle/role/ci/secret-id', {}, wrap());
    assert.equal(wrapped.data, null);

    const holder = srv.client(wrapped.wrap_info.token);
    const secretId = (await holder.unwrap()).data.secret_id;
    const login = await srv.client().approleLogin({ role_id: roleId, secret_id: secretId });
    assert.match(login.auth.client_token, /^hvs\./);
    const err = await rejection(holder.unwrap());
    assert.equal(err.response.statusCode, 400);
  });
});
