'use strict';
// Starts the real coffer binary for the node-vault tests. The binary comes from
// $COFFER_BIN (default: build-test/coffer at the repository root). Readiness is a poll of
// GET /v1/sys/health with a deadline, never a blind sleep. Loopback only.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

// Keep axios (inside node-vault) off any proxy named by the environment.
for (const v of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy']) {
  delete process.env[v];
}
process.env.NO_PROXY = process.env.no_proxy = '127.0.0.1,localhost';
for (const v of ['VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_NAMESPACE', 'VAULT_PREFIX']) delete process.env[v];

const nodeVault = require('node-vault');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const START_DEADLINE_MS = 15000;

function cofferBin() {
  const value = process.env.COFFER_BIN;
  if (!value) return path.join(REPO_ROOT, 'build-test', 'coffer');
  return path.isAbsolute(value) ? value : path.join(REPO_ROOT, value);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function healthStatus(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v1/sys/health', timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => { req.destroy(); resolve(null); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

// startServer({ dev: true }) -> initialized, unsealed, KV v2 at secret/, root token `rootToken`.
// startServer({ dev: false }) -> sqlite storage in a temp dir, sealed and uninitialized.
async function startServer({ dev = true } = {}) {
  const binary = cofferBin();
  if (!fs.existsSync(binary)) throw new Error(`coffer binary not found at ${binary} (set COFFER_BIN)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-node-'));
  const logPath = path.join(dir, 'coffer.log');
  const rootToken = dev ? `root-${crypto.randomBytes(8).toString('hex')}` : null;

  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const args = ['server', `--listen=127.0.0.1:${port}`];
    if (dev) args.push('--dev', `--dev-root-token=${rootToken}`);
    else args.push(`--storage=sqlite:${path.join(dir, 'coffer.db')}`);
    const logFd = fs.openSync(logPath, 'a');
    fs.writeSync(logFd, `\n==== ${binary} ${args.join(' ')}\n`);
    const proc = spawn(binary, args, { cwd: dir, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    let exited = false;
    proc.on('exit', () => { exited = true; });

    const server = {
      addr: `http://127.0.0.1:${port}`,
      port,
      proc,
      dir,
      logPath,
      rootToken,
      log: () => { try { return fs.readFileSync(logPath, 'utf8'); } catch (_e) { return ''; } },
      client: (token) => nodeVault({ endpoint: `http://127.0.0.1:${port}`, token, requestOptions: { timeout: 15000 } }),
      async stop() {
        if (exited) return;
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await done;
        clearTimeout(t);
      },
      cleanup() { fs.rmSync(dir, { recursive: true, force: true }); },
    };

    const deadline = Date.now() + START_DEADLINE_MS;
    while (Date.now() < deadline && !exited) {
      const status = await healthStatus(port);
      if (status !== null && (!dev || status === 200)) return server;
      await sleep(20);
    }
    if (!exited) {
      proc.kill('SIGKILL');
      throw new Error(`coffer not ready within ${START_DEADLINE_MS} ms\n--- log ---\n${server.log()}`);
    }
    if (!/address (already )?in use/i.test(server.log())) {
      throw new Error(`coffer exited before it was ready\n--- log ---\n${server.log()}`);
    }
  }
  throw new Error('could not find a free port for coffer');
}

// Runs fn(server) against a fresh server; on failure the server log is added to the error.
async function withServer(opts, fn) {
  const server = await startServer(opts);
  try {
    await fn(server);
  } catch (err) {
    if (err && typeof err === 'object') {
      try { err.message = `${err.message}\n--- coffer log (${server.logPath}) ---\n${server.log()}`; } catch (_e) { /* read-only */ }
    }
    throw err;
  } finally {
    await server.stop();
    server.cleanup();
  }
}

// Resolves to the ApiResponseError node-vault rejects with (fails if it resolves).
async function rejection(promise) {
  try {
    const value = await promise;
    throw Object.assign(new Error(`expected a rejection, got ${JSON.stringify(value)}`), { unexpected: true });
  } catch (err) {
    if (err.unexpected) throw err;
    return err;
  }
}

module.exports = { startServer, withServer, waitUntil, rejection, cofferBin, nodeVault };
