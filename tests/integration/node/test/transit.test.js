'use strict';
// Transit through node-vault 0.12.0's schema-less commands (node-vault's commands):
// they send the whole args object as the body, name included, at the fixed mount transit/.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withServer, rejection } = require('../lib/server');

const b64 = (s) => Buffer.from(s).toString('base64');
const unb64 = (s) => Buffer.from(s, 'base64').toString();

test('transit keys, encrypt, decrypt, rewrap with node-vault', async () => {
  await withServer({ dev: true }, async (srv) => {
    const vault = srv.client(srv.rootToken);
    await vault.mount({ mount_point: 'transit', type: 'transit' });

    assert.equal(await vault.transitCreateKey({ name: 'nv', type: 'chacha20-poly1305' }), '');
    const key = await vault.transitReadKey({ name: 'nv' });
    assert.equal(key.data.type, 'chacha20-poly1305');
    assert.equal(key.data.latest_version, 1);
    const listed = await vault.transitListKeys();
    assert.deepEqual(listed.data.keys, ['nv']);

    const enc = await vault.encryptData({ name: 'nv', plaintext: b64('from node') });
    assert.match(enc.data.ciphertext, /^vault:v1:/);
    const dec = await vault.decryptData({ name: 'nv', ciphertext: enc.data.ciphertext });
    assert.equal(unb64(dec.data.plaintext), 'from node');

    // batch through the same command
    const batch = await vault.encryptData({ name: 'nv', batch_input: [{ plaintext: b64('a') }, { plaintext: b64('b') }] });
    assert.equal(batch.data.batch_results.length, 2);

    await vault.write('transit/keys/nv/rotate', {});
    const rw = await vault.rewrapData({ name: 'nv', ciphertext: enc.data.ciphertext });
    assert.match(rw.data.ciphertext, /^vault:v2:/);
    assert.equal(unb64((await vault.decryptData({ name: 'nv', ciphertext: rw.data.ciphertext })).data.plaintext), 'from node');

    // node-vault's README example passes camelCase plainText: Vault ignores it (400)
    const camel = await rejection(vault.encryptData({ name: 'nv', plainText: 'x' }));
    assert.equal(camel.response.statusCode, 400);
    assert.equal(camel.message, 'missing plaintext to encrypt');

    const tampered = await rejection(vault.decryptData({ name: 'nv', ciphertext: enc.data.ciphertext.slice(0, -4) + 'AAAA' }));
    assert.equal(tampered.response.statusCode, 400);
    assert.equal(tampered.message, 'cipher: message authentication failed');

    const missing = await rejection(vault.transitReadKey({ name: 'nope' }));
    assert.equal(missing.response.statusCode, 404);

    const refused = await rejection(vault.transitDeleteKey({ name: 'nv' }));
    assert.equal(refused.response.statusCode, 400);
    await vault.write('transit/keys/nv/config', { deletion_allowed: true });
    assert.equal(await vault.transitDeleteKey({ name: 'nv' }), '');
  });
});
