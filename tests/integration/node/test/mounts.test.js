'use strict';
// Mounts and audit devices with node-vault: mounts / mount / unmount, audits / enableAudit.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { withServer, rejection } = require('../lib/server');

test('mounts, mount, unmount', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = srv.client(srv.rootToken);
    const before = await root.mounts();
    // node-vault's examples test result.hasOwnProperty('secret/'): the top-level copy
    assert.ok(Object.prototype.hasOwnProperty.call(before, 'secret/'));
    assert.equal(before['secret/'].type, 'kv');
    assert.deepEqual(before['secret/'].options, { version: '2' });

    await root.mount({ mount_point: 'app', type: 'kv', description: 'app secrets', options: { version: '2' } });
    const after = await root.mounts();
    assert.equal(after['app/'].type, 'kv');
    assert.equal(after['app/'].options.version, '2');
    assert.equal(after.data['app/'].description, 'app secrets');

    await root.write('app/data/db', { data: { password: 'p' } });
    assert.deepEqual((await root.read('app/data/db')).data.data, { password: 'p' });

    const inUse = await rejection(root.mount({ mount_point: 'app', type: 'kv', options: { version: '2' } }));
    assert.equal(inUse.response.statusCode, 400);

    await root.unmount({ mount_point: 'app' });
    assert.ok(!Object.prototype.hasOwnProperty.call(await root.mounts(), 'app/'));
    assert.equal((await rejection(root.read('app/data/db'))).response.statusCode, 404);
  });
});

test('audits and enableAudit with the legacy `path` option', async () => {
  await withServer({ dev: true }, async (srv) => {
    const root = srv.client(srv.rootToken);
    const file = path.join(srv.dir, 'audit.log');
    await root.enableAudit({ name: 'file', type: 'file', options: { path: file } });
    const audits = await root.audits();
    assert.ok(Object.prototype.hasOwnProperty.call(audits, 'file/'), JSON.stringify(audits));
    assert.equal(audits['file/'].type, 'file');
    await root.write('secret/data/audited', { data: { password: 'hunter2-node' } });
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.trim().split('\n');
    assert.ok(lines.length >= 2);
    for (const line of lines) JSON.parse(line);
    assert.ok(!text.includes('hunter2-node'));
    await root.disableAudit({ name: 'file' });
    assert.ok(!Object.prototype.hasOwnProperty.call(await root.audits(), 'file/'));
  });
});
