'use strict';
// KV v2 through node-vault's generic verbs: write/read/update(PATCH)/list/delete secret/data/...
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withServer, rejection } = require('../lib/server');

test('write, read, update, list, delete under secret/', async () => {
  await withServer({ dev: true }, async (srv) => {
    const vault = srv.client(srv.rootToken);

    const written = await vault.write('secret/data/app/db', { data: { password: 'x', user: 'y' } });
    assert.equal(written.data.version, 1);

    const read = await vault.read('secret/data/app/db');
    assert.deepEqual(read.data.data, { password: 'x', user: 'y' });
    assert.equal(read.data.metadata.version, 1);

    // node-vault's update() is a PATCH with application/merge-patch+json
    const patched = await vault.update('secret/data/app/db', { data: { password: 'z', user: null } });
    assert.equal(patched.data.version, 2);
    assert.deepEqual((await vault.read('secret/data/app/db')).data.data, { password: 'z' });

    const old = await vault.read('secret/data/app/db?version=1');
    assert.deepEqual(old.data.data, { password: 'x', user: 'y' });

    await vault.write('secret/data/app/api', { data: { key: 'k' } });
    await vault.write('secret/data/app/nested/deep', { data: { a: 'b' } });
    const listed = await vault.list('secret/metadata/app/');
    assert.deepEqual([...listed.data.keys].sort(), ['api', 'db', 'nested/']);

    const cas = await rejection(vault.write('secret/data/app/db', { data: { password: 'w' }, options: { cas: 1 } }));
    assert.equal(cas.response.statusCode, 400);
    assert.match(cas.message, /check-and-set/);

    const deleted = await vault.delete('secret/data/app/db');
    assert.equal(deleted, '');
    const gone = await rejection(vault.read('secret/data/app/db'));
    assert.equal(gone.response.statusCode, 404);
    assert.equal(gone.response.body.data.data, null);
    assert.notEqual(gone.response.body.data.metadata.deletion_time, '');

    await vault.destroySecretVersions({ mount_point: 'secret', path: 'app/api', versions: [1] });
    const destroyed = await rejection(vault.read('secret/data/app/api'));
    assert.equal(destroyed.response.statusCode, 404);
    assert.equal(destroyed.response.body.data.metadata.destroyed, true);

    const missing = await rejection(vault.read('secret/data/never'));
    assert.equal(missing.response.statusCode, 404);
  });
});

test('list with GET ?list=1 (noCustomHTTPVerbs)', async () => {
  await withServer({ dev: true }, async (srv) => {
    const vault = srv.client(srv.rootToken);
    await vault.write('secret/data/one', { data: { a: '1' } });
    const plain = require('node-vault')({ endpoint: srv.addr, token: srv.rootToken, noCustomHTTPVerbs: true });
    const listed = await plain.list('secret/metadata/');
    assert.deepEqual(listed.data.keys, ['one']);
  });
});

test('bad tokens are 403', async () => {
  await withServer({ dev: true }, async (srv) => {
    await srv.client(srv.rootToken).write('secret/data/x', { data: { a: '1' } });
    const none = await rejection(srv.client().read('secret/data/x'));
    assert.equal(none.response.statusCode, 403);
    assert.equal(none.message, 'permission denied');
    const wrong = await rejection(srv.client('hvs.notavalidtokennotavalidtoken').read('secret/data/x'));
    assert.equal(wrong.response.statusCode, 403);
  });
});
