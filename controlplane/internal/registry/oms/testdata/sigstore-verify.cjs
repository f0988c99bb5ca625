// A foreign verifier for our OMS v1.0 bundles: npm's @sigstore/verify
// checks the DSSE signature with a public key, then this script checks the
// statement and, given the model directory, re-hashes it on its own.
//
//   NODE_PATH=<dir>/node_modules node sigstore-verify.cjs BUNDLE PUBKEY.pem [MODEL_DIR]
//
// The key is looked up under the hint model_signing gives it (hex SHA-256
// of the PEM public key), computed here from the PEM, not read from the
// bundle. Prints one JSON line; exits 1 on any failure.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const STATEMENT = 'https://in-toto.io/Statement/v1';
const PREDICATE = 'https://model_signing/signature/v1.0';
const DEFAULT_IGNORES = ['.git', '.gitattributes', '.github', '.gitignore', 'model.sig'];

function fail(msg) {
  process.stdout.write(JSON.stringify({ ok: false, error: msg }) + '\n');
  process.exit(1);
}

function sha256(...parts) {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function verifyBundle(bundleJSON, keyPEM) {
  const bundle = bundleFromJSON(bundleJSON);
  const key = crypto.createPublicKey(keyPEM);
  const pem = key.export({ type: 'spki', format: 'pem' });
  const hint = sha256(pem).toString('hex');
  const trust = toTrustMaterial(
    { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
    { [hint]: { rawBytes: key.export({ type: 'spki', format: 'der' }) } },
  );
  // A key-method bundle has no log entries, SCTs or timestamps.
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundle));
  const env = bundle.content.dsseEnvelope;
  if (env.payloadType !== 'application/vnd.in-toto+json') throw new Error(`payload type ${env.payloadType}`);
  return { hint, statement: JSON.parse(env.payload.toString('utf8')) };
}

function checkStatement(st) {
  if (st._type !== STATEMENT) throw new Error(`_type ${st._type}`);
  if (st.predicateType !== PREDICATE) throw new Error(`predicateType ${st.predicateType}`);
  if (!Array.isArray(st.subject) || st.subject.length !== 1) throw new Error('want one subject');
  const root = sha256(...st.predicate.resources.map((r) => Buffer.from(r.digest, 'hex'))).toString('hex');
  if (root !== st.subject[0].digest.sha256) throw new Error(`subject ${st.subject[0].digest.sha256} is not the root of the resources (${root})`);
  return root;
}

// The OMS walk, written again: every regular file under dir, names
// relative with '/', ignore paths and their children skipped, symlinks
// refused unless allowed (then followed, inside dir only).
function walk(dir, ser) {
  const ignores = [...(ser.ignore_paths || []), ...DEFAULT_IGNORES];
  const ignored = (rel) => ignores.some((p) => rel === p || rel.startsWith(p + '/'));
  const rootReal = fs.realpathSync(dir);
  const out = [];
  const visit = (real, rel) => {
    for (const e of fs.readdirSync(real, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (ignored(r)) continue;
      let p = path.join(real, e.name);
      if (e.isSymbolicLink()) {
        if (!ser.allow_symlinks) throw new Error(`${r}: symlink`);
        p = fs.realpathSync(p);
        const back = path.relative(rootReal, p);
        if (back.startsWith('..') || path.isAbsolute(back)) throw new Error(`${r}: symlink leaves the model`);
      }
      const st = fs.statSync(p);
      if (st.isDirectory()) visit(p, r);
      else if (st.isFile()) out.push({ rel: r, real: p, size: st.size });
      else throw new Error(`${r}: not a regular file`);
    }
  };
  visit(rootReal, '');
  return out;
}

function hashRange(file, start, end) {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let pos = start; pos < end; ) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n === 0) throw new Error(`${file}: short read`);
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function rehash(dir, st) {
  const ser = st.predicate.serialization;
  if (ser.hash_type !== 'sha256') throw new Error(`hash_type ${ser.hash_type} not supported here`);
  const got = new Map();
  for (const f of walk(dir, ser)) {
    if (ser.method === 'files') {
      got.set(f.rel, hashRange(f.real, 0, f.size));
    } else if (ser.method === 'shards') {
      const size = Number(ser.shard_size);
      for (let s = 0; s < f.size; s += size) {
        const e = Math.min(s + size, f.size);
        got.set(`${f.rel}:${s}:${e}`, hashRange(f.real, s, e));
      }
    } else {
      throw new Error(`method ${ser.method}`);
    }
  }
  const want = new Map(st.predicate.resources.map((r) => [r.name, r.digest]));
  const problems = [];
  for (const [n, d] of want) {
    if (!got.has(n)) problems.push(`missing ${n}`);
    else if (got.get(n) !== d) problems.push(`changed ${n}`);
  }
  for (const n of got.keys()) if (!want.has(n)) problems.push(`unlisted ${n}`);
  if (problems.length) throw new Error(problems.join(', '));
  return got.size;
}

function main() {
  const [bundlePath, keyPath, modelDir] = process.argv.slice(2);
  if (!bundlePath || !keyPath) fail('usage: sigstore-verify.cjs BUNDLE PUBKEY.pem [MODEL_DIR]');
  let result;
  try {
    const { hint, statement } = verifyBundle(JSON.parse(fs.readFileSync(bundlePath, 'utf8')), fs.readFileSync(keyPath, 'utf8'));
    const root = checkStatement(statement);
    result = { ok: true, hint, root, resources: statement.predicate.resources.length };
    if (modelDir) result.rehashed = rehash(modelDir, statement);
  } catch (e) {
    fail(`${e.code ? e.code + ': ' : ''}${e.message}`);
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main();
