'use strict';
// init / unseal / status / seal with node-vault against a sqlite-backed coffer.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withServer, rejection } = require('../lib/server');

test('init 5/3, unseal with 3, status, health, seal', async () => {
  await withServer({ dev: false }, async (srv) => {
    const vault = srv.client();
    assert.deepEqual(await vault.initialized(), { initialized: false });

    const init = await vault.init({ secret_shares: 5, secret_threshold: 3 });
    assert.equal(init.keys.length, 5);
    assert.match(init.root_token, /^hvs\./);
    assert.deepEqual(await vault.initialized(), { initialized: true });

    let status = await vault.status();
    assert.equal(status.sealed, true);
    assert.equal(status.t, 3);
    assert.equal(status.n, 5);
    assert.equal(status.progress, 0);

    let step;
    for (const [i, key] of init.keys.slice(0, 3).entries()) {
      step = await vault.unseal({ key });
      if (i < 2) {
        assert.equal(step.sealed, true);
        assert.equal(step.progress, i + 1);
      }
    }
    assert.equal(step.sealed, false);
    status = await vault.status();
    assert.equal(status.sealed, false);

    const root = srv.client(init.root_token);
    const mounts = await root.mounts();
    assert.ok(mounts.data['sys/']);

    await root.seal();
    assert.equal((await vault.status()).sealed, true);
    const err = await rejection(root.mounts());
    assert.equal(err.response.statusCode, 503);
    assert.match(err.message, /sealed/i);

    for (const key of init.keys.slice(2, 5)) step = await vault.unseal({ key });
    assert.equal(step.sealed, false);
    assert.ok((await root.mounts()).data['sys/']);
  });
});

test('unseal reset and a second init are refused', async () => {
  await withServer({ dev: false }, async (srv) => {
    const vault = srv.client();
    const init = await vault.init({ secret_shares: 3, secret_threshold: 2 });
    assert.equal((await vault.unseal({ key: init.keys[0] })).progress, 1);
    const reset = await vault.unseal({ reset: true });
    assert.equal(reset.progress, 0);
    assert.equal(reset.sealed, true);
    const err = await rejection(vault.init({ secret_shares: 1, secret_threshold: 1 }));
    assert.equal(err.response.statusCode, 400);
  });
});

test('health answers with a body on every status', async () => {
  await withServer({ dev: false }, async (srv) => {
    const vault = srv.client();
    // node-vault resolves any sys/health status with the body
    let health = await vault.health();
    assert.equal(health.initialized, false);
    assert.equal(health.sealed, true);
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    health = await vault.health({ sealedcode: 299 });
    assert.equal(health.initialized, true);
    assert.equal(health.sealed, true);
    await vault.unseal({ key: init.keys[0] });
    health = await vault.health();
    assert.equal(health.sealed, false);
    assert.equal(health.standby, false);
  });
});
