// Runs piiguard.wasm under V8 on the host of host.mjs, on the bodies and
// expected outputs the Go side writes (go test ./piiguard -run TestV8Inputs
// -args -v8.dump=DIR), and prints p50/p99/mean per body size beside the
// native Apply figures of the same run. Run it as Envoy configures V8:
//
//	node --no-liftoff filters/bench/v8/bench.mjs [flags] DIR
//
// Flags: --n N (timed requests per size, 2000), --warmup N (500),
// --soak N (16 KiB requests for the memory check, 50000; 0 skips it),
// --wazero FILE (GuestOwnHost output of the same run, for its column),
// --wasm PATH (filters/piiguard.wasm), --env K=V,… (the guest VM's
// environment, as Envoy's vm_config.environment_variables, e.g. GOGC=400), --paired (native Apply timed by
// TestV8Inputs -v8.serve in blocks of --block N, 20, between blocks of V8
// requests), --check (run each case once and write DIR/NAME.got and
// NAME.got.json for TestGuestUnderV8; no timing). make bench.v8 runs it
// all.

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ProxyWasmHost } from './host.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = { n: 2000, warmup: 500, soak: 50000, wazero: '', wasm: path.join(here, '../../piiguard.wasm'), check: false, paired: false, block: 20, env: '' };
const rest = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--check' || a === '--paired') opts[a.slice(2)] = true;
  else if (a.startsWith('--')) {
    const k = a.slice(2);
    if (!(k in opts)) fail(`unknown flag ${a}`);
    const v = process.argv[++i];
    opts[k] = typeof opts[k] === 'number' ? Number(v) : v;
  } else rest.push(a);
}
if (rest.length !== 1) fail('usage: bench.mjs [--check] [--paired] [--n N] [--warmup N] [--soak N] [--wazero FILE] [--wasm PATH] DIR');
const dir = rest[0];
if (!(opts.block >= 1 && opts.block <= 255)) fail('--block must be 1 to 255');

// guestEnv reads --env K=V,K=V (the guest VM's environment, e.g. GOGC=400).
function guestEnv(spec) {
  const env = {};
  for (const kv of spec.split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i <= 0) fail(`--env wants K=V pairs, got ${kv}`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

function fail(msg) {
  process.stderr.write(`bench.mjs: ${msg}\n`);
  process.exit(1);
}

// Opening the FIFOs waits for the Go side, which opens them only once it
// has written the manifest.
const [reqFd, respFd] = opts.paired
  ? [fs.openSync(path.join(dir, 'native.req'), 'w'), fs.openSync(path.join(dir, 'native.resp'), 'r')]
  : [];

const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
for (const c of manifest.cases) {
  c.bodyBytes = fs.readFileSync(path.join(dir, c.body));
  c.wantBytes = fs.readFileSync(path.join(dir, c.want));
}

const wasmBytes = fs.readFileSync(opts.wasm);
// V8 compiles wasm functions lazily, on their first call, with TurboFan
// alone under --no-liftoff: the cold start is mostly the Go runtime's
// initialization and the configuration's JSON decoding being compiled.
const t0 = performance.now();
const module = new WebAssembly.Module(wasmBytes);
const t1 = performance.now();
const newHost = () => {
  const h = new ProxyWasmHost(module, { pluginConfig: manifest.config, env: guestEnv(opts.env) });
  h.start();
  return h;
};
let host = newHost();
const cold = { compile: t1 - t0, start: performance.now() - t1 };

const sortedHeaders = (hs) => hs.map(([k, v]) => [k, v]).sort((a, b) => {
  const x = a[0] + '\0' + a[1], y = b[0] + '\0' + b[1];
  return x < y ? -1 : x > y ? 1 : 0;
});

// verify fails the run on any difference from the native filter: a
// benchmark of a filter that forwards the wrong bytes measures nothing.
function verify(c, s) {
  const got = Buffer.from(s.requestBody.buffer, s.requestBody.byteOffset, s.requestBody.byteLength);
  if (!got.equals(c.wantBytes)) {
    let i = 0;
    while (i < got.length && i < c.wantBytes.length && got[i] === c.wantBytes[i]) i++;
    fail(`${c.name}: body under V8 differs from the native output at byte ${i} (V8 ${got.length} bytes, native ${c.wantBytes.length}):\n` +
      `  V8:     ${JSON.stringify(got.subarray(Math.max(0, i - 40), i + 40).toString('latin1'))}\n` +
      `  native: ${JSON.stringify(c.wantBytes.subarray(Math.max(0, i - 40), i + 40).toString('latin1'))}`);
  }
  const hs = JSON.stringify(sortedHeaders(s.requestHeaders)), want = JSON.stringify(c.want_headers);
  if (hs !== want) fail(`${c.name}: headers under V8 ${hs}, native ${want}`);
  const local = s.localResponse ? s.localResponse.status : 0;
  if (local !== c.want_local) fail(`${c.name}: local reply under V8 ${local}, native ${c.want_local}`);
}

if (opts.check) {
  for (const c of manifest.cases) {
    const s = host.request(c.headers, c.bodyBytes);
    fs.writeFileSync(path.join(dir, `${c.name}.got`), s.requestBody);
    fs.writeFileSync(path.join(dir, `${c.name}.got.json`), JSON.stringify({
      headers: sortedHeaders(s.requestHeaders),
      local: s.localResponse ? s.localResponse.status : 0,
      local_body: s.localResponse ? Buffer.from(s.localResponse.body).toString('latin1') : '',
    }));
  }
  process.exit(0);
}

function summarize(lat) {
  const sorted = Float64Array.from(lat).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return { p50: sorted[sorted.length >> 1], p99: sorted[Math.floor(sorted.length * 99 / 100)], mean: sum / sorted.length };
}

// With --paired, the Go side (TestV8Inputs -v8.serve) times native
// Applies of the same body in blocks alternating with blocks of V8
// requests: on a shared machine whole stretches run several times slower,
// so a ratio is only sound between figures timed in the same moments.
// Blocks rather than single requests, because each switch between the two
// processes leaves the next request's caches cold, which would slow the
// native side most. A V8 block whose native neighbours both had their
// median within 1.5× the overall one was not slowed by the machine
// ("calm"), as in GuestOwnHost's paired run.
let nativeBlock = null;
if (opts.paired) {
  const ask = Buffer.alloc(2);
  nativeBlock = (index, into, at, count) => {
    ask[0] = index;
    ask[1] = count;
    fs.writeSync(reqFd, ask);
    const back = Buffer.alloc(8 * count);
    for (let got = 0; got < back.length;) {
      const n = fs.readSync(respFd, back, got, back.length - got, null);
      if (n === 0) fail('native.resp: the Go side stopped');
      got += n;
    }
    for (let i = 0; i < count; i++) into[at + i] = back.readDoubleLE(8 * i);
  };
}

// Every body is warmed up before any is timed: V8 compiles each function
// on its first call, and the guest's collector first runs only after some
// requests, so a size timed first would otherwise pay for compiling it.
const benchCases = manifest.cases.filter((c) => c.bench);
const firstMs = {};
for (const c of benchCases) {
  const t = performance.now();
  verify(c, host.request(c.headers, c.bodyBytes));
  firstMs[c.name] = performance.now() - t;
}
for (const c of benchCases) {
  for (let i = 0; i < opts.warmup; i++) verify(c, host.request(c.headers, c.bodyBytes));
}

const times = new Float64Array(4);
const results = [];
for (const c of benchCases) {
  const index = manifest.cases.indexOf(c);
  const B = opts.block, blocks = Math.ceil(opts.n / B), n = blocks * B;
  const req = new Float64Array(n), stream = new Float64Array(n), native = new Float64Array(n + B);
  if (nativeBlock) nativeBlock(index, native, 0, B);
  for (let j = 0; j < blocks; j++) {
    for (let i = j * B; i < (j + 1) * B; i++) {
      const s = host.request(c.headers, c.bodyBytes, times);
      req[i] = (times[2] - times[1]) * 1000;
      stream[i] = (times[3] - times[0]) * 1000;
      verify(c, s);
    }
    if (nativeBlock) nativeBlock(index, native, (j + 1) * B, B);
  }
  const r = { name: c.name, n, firstMs: firstMs[c.name], req: summarize(req), stream: summarize(stream), calm: null, calmPct: NaN };
  if (nativeBlock) {
    r.native = summarize(native);
    const calmBelow = 1.5 * r.native.p50;
    const blockP50 = (j) => summarize(native.subarray(j * B, (j + 1) * B)).p50;
    const calm = [];
    for (let j = 0; j < blocks; j++) {
      if (blockP50(j) <= calmBelow && blockP50(j + 1) <= calmBelow) calm.push(...req.subarray(j * B, (j + 1) * B));
    }
    if (calm.length) r.calm = summarize(calm);
    r.calmPct = (100 * calm.length) / n;
  } else {
    r.native = { p50: c.native.p50_us, p99: c.native.p99_us, mean: c.native.mean_us };
  }
  results.push(r);
}

// The soak starts from a fresh instance so that "after 5,000" is the
// heap's working size for this body, not what the larger bodies left.
let memory = null;
const soakCase = manifest.cases.find((c) => c.name === '16KiB');
if (opts.soak > 0 && soakCase) {
  host = newHost();
  memory = { initial: host.memory.buffer.byteLength, marks: [] };
  const marks = new Set([5000, opts.soak]);
  for (let i = 1; i <= opts.soak; i++) {
    const s = host.request(soakCase.headers, soakCase.bodyBytes);
    if (i % 1000 === 0 || marks.has(i)) verify(soakCase, s);
    if (marks.has(i)) memory.marks.push([i, host.memory.buffer.byteLength]);
  }
}

// GuestOwnHost's lines, if given: "BenchmarkGuestOwnHost/wasm/16KiB-2 ...
// 110.1 µs-p50 ...", and its native-apply lines, timed beside wazero and
// so the baseline for wazero's ratio.
const wazero = {};
if (opts.wazero) {
  for (const line of fs.readFileSync(opts.wazero, 'utf8').split('\n')) {
    const m = /^BenchmarkGuestOwnHost\/(wasm|native-apply)\/(\d+KiB)\S*\s/.exec(line);
    if (!m) continue;
    const metric = (unit) => {
      const r = new RegExp(`([0-9.]+) ${unit}(\\s|$)`).exec(line);
      return r ? Number(r[1]) : NaN;
    };
    const z = (wazero[m[2]] ??= {});
    if (m[1] === 'wasm') Object.assign(z, { p50: metric('µs-p50'), p99: metric('µs-p99'), stream: metric('stream-µs-mean') });
    else z.native = metric('µs-p50');
  }
}

const f = (v) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : '—');
const liftoff = !process.execArgv.includes('--no-liftoff');
console.log(`piiguard.wasm under V8 ${process.versions.v8} (node ${process.version}, ${process.execArgv.join(' ') || 'no flags'})` +
  (liftoff ? ' — Liftoff is ON: not Envoy\'s configuration, run with --no-liftoff' : ''));
console.log(`module ${(wasmBytes.length / 1e6).toFixed(2)} MB; cold start: module ${cold.compile.toFixed(0)} ms, instantiate + _initialize + configure ${cold.start.toFixed(0)} ms`);
console.log(`${opts.n} timed requests per size after ${opts.warmup} warm-up requests of every size; outputs byte-identical to native on every request`);
console.log('');
console.log('| body | V8 p50 / p99 / mean (headers + body) | V8 p99 calm (calm %) | V8 whole stream p50 / mean | native Apply p50 / p99 | V8 ÷ native (p50) | wazero p50 / p99 | wazero ÷ its native (p50) | V8 first request |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  const z = wazero[r.name] ?? {};
  console.log(`| ${r.name} | ${f(r.req.p50)} / ${f(r.req.p99)} / ${f(r.req.mean)} µs | ${r.calm ? `${f(r.calm.p99)} µs (${r.calmPct.toFixed(0)}%)` : '—'} |` +
    ` ${f(r.stream.p50)} / ${f(r.stream.mean)} µs | ${f(r.native.p50)} / ${f(r.native.p99)} µs | ${(r.req.p50 / r.native.p50).toFixed(2)}× |` +
    ` ${f(z.p50)} / ${f(z.p99)} µs | ${z.p50 ? (z.p50 / z.native).toFixed(2) + '×' : '—'} | ${r.firstMs.toFixed(1)} ms |`);
}
console.log(opts.paired
  ? `native Apply: timed by the Go side in blocks of ${opts.block} alternating with blocks of V8 requests (paired); calm: the V8 blocks whose two native neighbours both had their median within 1.5× the overall one`
  : 'native Apply: timed by TestV8Inputs before this run (run with --paired for figures timed alongside)');
if (memory) {
  console.log('');
  console.log(`guest memory over ${opts.soak} requests of 16 KiB (fresh instance, ${memory.initial >> 10} KiB at start): ` +
    memory.marks.map(([n, b]) => `${b >> 10} KiB after ${n}`).join(', '));
  const [[, warm], [, end]] = memory.marks.length > 1 ? memory.marks : [memory.marks[0], memory.marks[0]];
  if (end > warm + warm / 4) fail(`guest memory grew from ${warm >> 10} to ${end >> 10} KiB`);
}
