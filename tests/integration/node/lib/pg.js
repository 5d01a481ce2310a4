'use strict';
// A real PostgreSQL 15 for the node-vault database tests: started by the Python
// suite's helper (tests/integration/pglib.py serve), which does initdb/pg_ctl in a
// temp dir on a free loopback port (running the server as an unprivileged user when
// we are root) and keeps it up until its stdin closes.

const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

const PGLIB = path.resolve(__dirname, '..', '..', 'pglib.py');

function pgEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return Object.assign(env, { PGPASSFILE: '/dev/null', PGCONNECT_TIMEOUT: '5', LC_ALL: 'C' }, extra || {});
}

async function startPostgres() {
  const proc = spawn('python3', [PGLIB, 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = readline.createInterface({ input: proc.stdout });
  const line = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('pglib.py serve: no answer within 60 s')), 60000);
    rl.once('line', (l) => { clearTimeout(t); resolve(l); });
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`pglib.py serve exited ${code}`)); });
  });
  const info = JSON.parse(line);
  if (info.error) {
    proc.stdin.end();
    throw new Error(`PostgreSQL could not start: ${info.error}`);
  }
  const psql = info.psql || 'psql';
  const pg = {
    ...info,
    // DSN for coffer's config (passwords checked over TCP)
    connectionUrl: (db = 'postgres') =>
      `postgresql://{{username}}:{{password}}@127.0.0.1:${info.port}/${db}?sslmode=disable`,
    // superuser query over the unix socket (trust)
    query(sql, db = 'postgres') {
      const r = spawnSync(psql, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', info.socket_dir,
        '-p', String(info.port), '-U', info.user, '-d', db], { input: sql, env: pgEnv(), encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
      return r.stdout.trim();
    },
    roleExists(name) {
      return pg.query(`SELECT count(*) FROM pg_roles WHERE rolname = '${name.replace(/'/g, "''")}'`) === '1';
    },
    // a real login over TCP with password
    login(user, password, db = 'postgres') {
      const conninfo = `host=127.0.0.1 port=${info.port} user=${user} dbname=${db} sslmode=disable connect_timeout=5`;
      const r = spawnSync(psql, ['-X', '-q', '-A', '-t', '-d', conninfo, '-c', 'SELECT current_user'],
        { env: pgEnv({ PGPASSWORD: password }), encoding: 'utf8' });
      return r.status === 0 && r.stdout.trim() === user;
    },
    async stop() {
      const done = new Promise((r) => proc.once('exit', r));
      proc.stdin.end();
      const t = setTimeout(() => proc.kill('SIGTERM'), 30000);
      await done;
      clearTimeout(t);
    },
  };
  return pg;
}

module.exports = { startPostgres };
