'use strict';
// Database credentials and leases with node-vault (spec node-vault's commands):
// generateDatabaseCredentials, renew, revoke, revokePrefix (legacy path), against a
// real PostgreSQL 15 (lib/pg.js).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { withServer, waitUntil } = require('../lib/server');
const { startPostgres } = require('../lib/pg');

let pg;
before(async () => { pg = await startPostgres(); });
after(async () => { if (pg) await pg.stop(); });

async function setup(srv) {
  const root = srv.client(srv.rootToken);
  await root.mount({ mount_point: 'database', type: 'database' });
  await root.write('database/config/pg', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: pg.connectionUrl(),
    username: pg.user,
    password: pg.password,
    allowed_roles: '*',
    verify_connection: true,
  });
  await root.write('database/roles/app', {
    db_name: 'pg',
    creation_statements: ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"],
    default_ttl: '10m',
    max_ttl: '1h',
  });
  return root;
}

test('generateDatabaseCredentials, renew, revoke', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = await setup(srv);
    const creds = await root.generateDatabaseCredentials({ databasePath: 'database', name: 'app' });
    assert.match(creds.lease_id, /^database\/creds\/app\/.+/);
    assert.equal(creds.lease_duration, 600);
    assert.equal(creds.renewable, true);
    const { username, password } = creds.data;
    assert.ok(pg.login(username, password), 'psql must log in with the generated credentials');

    const renewed = await root.renew({ lease_id: creds.lease_id, increment: 120 });
    assert.equal(renewed.lease_id, creds.lease_id);
    assert.ok(renewed.lease_duration > 110 && renewed.lease_duration <= 120, `lease_duration ${renewed.lease_duration}`);
    assert.equal(renewed.renewable, true);

    const res = await root.revoke({ lease_id: creds.lease_id });
    assert.equal(res, '', 'revoke answers 204');
    assert.equal(pg.roleExists(username), false, 'the revoked role must be dropped');
    assert.equal(pg.login(username, password), false);
  });
});

test('revokePrefix (legacy sys/revoke-prefix) revokes every lease of a role', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = await setup(srv);
    const users = [];
    for (let i = 0; i < 3; i++) {
      users.push((await root.generateDatabaseCredentials({ databasePath: 'database', name: 'app' })).data.username);
    }
    for (const u of users) assert.ok(pg.roleExists(u));
    await root.revokePrefix({ path_prefix: 'database/creds/app' });
    await waitUntil(async () => users.every((u) => !pg.roleExists(u)), 5000, 'all roles of the prefix to be dropped');
  });
});
