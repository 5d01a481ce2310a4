'use strict';
// userpass and AppRole with node-vault (spec node-vault's commands): enableAuth,
// userpassLogin, addApproleRole (legacy field names), getApproleRoleId,
// getApproleRoleSecret, approleSecret* and approleLogin.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withServer, rejection } = require('../lib/server');

const KV_POLICY = 'path "secret/data/app/*" { capabilities = ["read"] }';

async function setup(srv) {
  const root = srv.client(srv.rootToken);
  await root.addPolicy({ name: 'kv-app', rules: KV_POLICY });
  await root.write('secret/data/app/db', { data: { password: 'dbpw' } });
  await root.write('secret/data/other/db', { data: { password: 'nope' } });
  return root;
}

test('userpassLogin: token within its policies, 400 on a wrong password', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = await setup(srv);
    await root.enableAuth({ mount_point: 'userpass', type: 'userpass' });
    const auths = await root.auths();
    assert.equal(auths['userpass/'].type, 'userpass');
    await root.write('auth/userpass/users/alice', { password: 'alice-pw', policies: 'kv-app' });

    const user = srv.client();
    const res = await user.userpassLogin({ username: 'Alice', password: 'alice-pw' });
    assert.match(res.auth.client_token, /^hvs\./);
    assert.deepEqual(res.auth.metadata, { username: 'alice' });
    assert.deepEqual(res.auth.policies, ['default', 'kv-app']);
    // userpassLogin is a token source: the client now carries the token
    assert.equal(user.token, res.auth.client_token);
    assert.deepEqual((await user.read('secret/data/app/db')).data.data, { password: 'dbpw' });
    assert.equal((await rejection(user.read('secret/data/other/db'))).response.statusCode, 403);

    const bad = await rejection(srv.client().userpassLogin({ username: 'alice', password: 'nope' }));
    assert.equal(bad.response.statusCode, 400);
    assert.equal(bad.message, 'invalid username or password');
    const ghost = await rejection(srv.client().userpassLogin({ username: 'ghost', password: 'nope' }));
    assert.equal(ghost.message, 'invalid username or password');
  });
});

test('userpass lockout: the 6th failure answers 429', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = await setup(srv);
    await root.enableAuth({ mount_point: 'userpass', type: 'userpass' });
    await root.write('auth/userpass/users/bob', { password: 'bob-pw' });
    for (let i = 0; i < 5; i++) {
      const err = await rejection(srv.client().userpassLogin({ username: 'bob', password: `bad${i}` }));
      assert.equal(err.response.statusCode, 400);
    }
    const locked = await rejection(srv.client().userpassLogin({ username: 'bob', password: 'bob-pw' }));
    assert.equal(locked.response.statusCode, 429);
  });
});

test('approle: addApproleRole (legacy names), secret IDs, approleLogin', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = await setup(srv);
    await root.enableAuth({ mount_point: 'approle', type: 'approle' });
    await root.addApproleRole({
      role_name: 'app', policies: 'kv-app', bound_cidr_list: '127.0.0.0/8',
      secret_id_num_uses: 2, secret_id_ttl: 600, token_ttl: 3600, token_max_ttl: 7200,
    });
    const role = (await root.getApproleRole({ role_name: 'app' })).data;
    assert.deepEqual(role.token_policies, ['kv-app']);
    assert.deepEqual(role.token_bound_cidrs, ['127.0.0.0/8']);
    assert.equal(role.secret_id_num_uses, 2);
    assert.equal(role.secret_id_ttl, 600);
    assert.deepEqual((await root.approleRoles()).data.keys, ['app']);

    const roleId = (await root.getApproleRoleId({ role_name: 'app' })).data.role_id;
    const secret = (await root.getApproleRoleSecret({ role_name: 'app', metadata: '{"env":"prod"}' })).data;
    assert.ok(secret.secret_id && secret.secret_id_accessor);
    assert.deepEqual((await root.approleSecretAccessors({ role_name: 'app' })).data.keys, [secret.secret_id_accessor]);
    const looked = (await root.approleSecretLookup({ role_name: 'app', secret_id: secret.secret_id })).data;
    assert.deepEqual(looked.metadata, { env: 'prod' });
    const byAcc = (await root.approleSecretAccessorLookup({ role_name: 'app', secret_id_accessor: secret.secret_id_accessor })).data;
    assert.equal(byAcc.secret_id_num_uses, 2);

    const user = srv.client();
    const res = await user.approleLogin({ role_id: roleId, secret_id: secret.secret_id });
    assert.deepEqual(res.auth.metadata, { role_name: 'app', env: 'prod' });
    assert.equal(res.auth.lease_duration, 3600);
    assert.equal(user.token, res.auth.client_token);
    assert.deepEqual((await user.read('secret/data/app/db')).data.data, { password: 'dbpw' });
    assert.equal((await rejection(user.read('secret/data/other/db'))).response.statusCode, 403);

    // two uses: the second login uses it up
    await srv.client().approleLogin({ role_id: roleId, secret_id: secret.secret_id });
    const used = await rejection(srv.client().approleLogin({ role_id: roleId, secret_id: secret.secret_id }));
    assert.equal(used.response.statusCode, 400);

    // destroy by accessor
    const other = (await root.getApproleRoleSecret({ role_name: 'app' })).data;
    await root.approleSecretAccessorDestroy({ role_name: 'app', secret_id_accessor: other.secret_id_accessor });
    const gone = await rejection(srv.client().approleLogin({ role_id: roleId, secret_id: other.secret_id }));
    assert.equal(gone.response.statusCode, 400);
    // destroy by secret ID
    const third = (await root.getApproleRoleSecret({ role_name: 'app' })).data;
    assert.equal(await root.approleSecretDestroy({ role_name: 'app', secret_id: third.secret_id }), '');
    assert.equal((await rejection(srv.client().approleLogin({ role_id: roleId, secret_id: third.secret_id }))).response.statusCode, 400);

    await root.updateApproleRoleId({ role_name: 'app', role_id: 'custom-role-id' });
    assert.equal((await root.getApproleRoleId({ role_name: 'app' })).data.role_id, 'custom-role-id');
    await root.deleteApproleRole({ role_name: 'app' });
    assert.equal((await rejection(root.getApproleRole({ role_name: 'app' }))).response.statusCode, 404);
  });
});
