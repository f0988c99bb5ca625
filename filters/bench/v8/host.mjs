// A proxy-wasm (ABI 0.2.1) host for one HTTP filter module under V8, as
// Envoy embeds it: the module's WASI imports come from node:wasi, its env
// imports from here, and the lifecycle is Envoy's (root context, VM start,
// configure, then per stream create, headers, body, done, log, delete).
// It is small on purpose: every host call is a few lines of JavaScript,
// so a benchmark on it measures the guest, as GuestOwnHost does on wazero.

import { WASI } from 'node:wasi';
import fs from 'node:fs';

// proxy-wasm WasmResult codes.
export const Status = Object.freeze({
  OK: 0, NotFound: 1, BadArgument: 2, InvalidMemoryAccess: 6, Empty: 7, Unimplemented: 12,
});

export const BufferType = Object.freeze({
  HttpRequestBody: 0, HttpResponseBody: 1, DownstreamData: 2, UpstreamData: 3,
  HttpCallResponseBody: 4, GrpcReceiveBuffer: 5, VmConfiguration: 6, PluginConfiguration: 7,
});

export const MapType = Object.freeze({
  HttpRequestHeaders: 0, HttpRequestTrailers: 1, HttpResponseHeaders: 2, HttpResponseTrailers: 3,
});

// Header names and values are bytes to the ABI; latin1 maps each byte to
// one UTF-16 unit and back, so a value the guest writes is read back
// exactly, whatever its encoding. Header names and values are short, and
// for them building a Buffer to decode costs more than the bytes: a
// profile of a 16 KiB request had the Buffer path at 3% of it.
function latin1(u8) {
  if (u8.byteLength <= 256) return String.fromCharCode.apply(null, u8);
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('latin1');
}

// encodeHeaders serializes pairs in the ABI's map format: a count, a
// (key length, value length) pair per entry, then each key and value
// followed by a NUL.
export function encodeHeaders(pairs) {
  let size = 4;
  for (const [k, v] of pairs) size += 8 + Buffer.byteLength(k, 'latin1') + 1 + Buffer.byteLength(v, 'latin1') + 1;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(pairs.length, 0);
  let p = 4;
  for (const [k, v] of pairs) {
    out.writeUInt32LE(k.length, p);
    out.writeUInt32LE(v.length, p + 4);
    p += 8;
  }
  for (const [k, v] of pairs) {
    p += out.write(k, p, 'latin1') + 1;
    p += out.write(v, p, 'latin1') + 1;
  }
  return out;
}

export function decodeHeaders(u8) {
  if (u8.byteLength === 0) return [];
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const n = dv.getUint32(0, true);
  if (4 + 8 * n > u8.byteLength) throw new Error('malformed header map');
  const out = [];
  let p = 4 + 8 * n;
  for (let i = 0; i < n; i++) {
    const kl = dv.getUint32(4 + 8 * i, true), vl = dv.getUint32(8 + 8 * i, true);
    if (p + kl + 1 + vl + 1 > u8.byteLength) throw new Error('malformed header map');
    const k = latin1(u8.subarray(p, p + kl)); p += kl + 1;
    const v = latin1(u8.subarray(p, p + vl)); p += vl + 1;
    out.push([k, v]);
  }
  return out;
}

// Stream is one HTTP stream's state as the proxy holds it.
class Stream {
  constructor(id, headers, body) {
    this.id = id;
    // Envoy's header maps hold lower-case names; the guest's lookups rely
    // on that.
    this.requestHeaders = headers.map(([k, v]) => [k.toLowerCase(), v]);
    this.requestBody = body;
    this.responseHeaders = [];
    this.responseBody = new Uint8Array(0);
    this.localResponse = null;
    this.continued = 0;
  }
}

export class ProxyWasmHost {
  // Options: pluginConfig and vmConfig (strings or bytes), log(level, msg).
  constructor(module, { pluginConfig = '', vmConfig = '', env = {}, log } = {}) {
    this.module = module;
    this.pluginConfig = toBytes(pluginConfig);
    this.vmConfig = toBytes(vmConfig);
    this.log = log ?? ((level, msg) => { if (level >= 3) process.stderr.write(`guest [${level}]: ${msg}\n`); });
    this.rootID = 1;
    this.nextID = 2;
    this.stream = null; // the stream whose callback is running
    this.effectiveContext = 0;
    this.tickPeriod = 0;
    // env is the VM's environment, as Envoy's vm_config.environment_variables sets it.
    this.wasi = new WASI({ version: 'preview1', args: ['piiguard'], env, returnOnExit: true });
    this.instance = new WebAssembly.Instance(module, {
      wasi_snapshot_preview1: this.wasi.wasiImport,
      env: this.#envImports(),
    });
    this.memory = this.instance.exports.memory;
    this.#refreshViews();
    // Exports are looked up once, as Envoy resolves them at load.
    const x = this.instance.exports;
    this.x = x;
    this.allocate = x.proxy_on_memory_allocate ?? x.malloc;
    if (!this.allocate) throw new Error('module exports neither proxy_on_memory_allocate nor malloc');
    if (!x.proxy_abi_version_0_2_1) throw new Error('module does not export proxy_abi_version_0_2_1');
  }

  static load(path, opts) {
    return new ProxyWasmHost(new WebAssembly.Module(fs.readFileSync(path)), opts);
  }

  // start runs the reactor's initializer and brings the root context up;
  // it throws if the plugin refuses its configuration, as Envoy then
  // fails the listener.
  start() {
    this.wasi.initialize(this.instance);
    const x = this.x;
    x.proxy_on_context_create(this.rootID, 0);
    if (x.proxy_on_vm_start && !x.proxy_on_vm_start(this.rootID, this.vmConfig.byteLength)) {
      throw new Error('proxy_on_vm_start failed');
    }
    if (!x.proxy_on_configure(this.rootID, this.pluginConfig.byteLength)) {
      throw new Error('proxy_on_configure failed: the plugin rejected its configuration');
    }
  }

  // request runs one request stream through the filter: headers (not the
  // end of the stream), the whole body buffered, then the stream's end.
  // If times (a Float64Array of 4) is given, it receives performance.now()
  // before context creation, before the header callback, after the body
  // callback, and after deletion.
  request(headers, body, times) {
    const x = this.x;
    const s = new Stream(this.nextID++, headers, body);
    this.stream = s;
    if (times) times[0] = performance.now();
    x.proxy_on_context_create(s.id, this.rootID);
    if (times) times[1] = performance.now();
    s.headersAction = x.proxy_on_request_headers(s.id, s.requestHeaders.length, 0);
    if (s.localResponse === null) s.bodyAction = x.proxy_on_request_body(s.id, s.requestBody.byteLength, 1);
    if (times) times[2] = performance.now();
    x.proxy_on_done(s.id);
    x.proxy_on_log(s.id);
    x.proxy_on_delete(s.id);
    if (times) times[3] = performance.now();
    this.stream = null;
    return s;
  }

  // Guest memory views are rebuilt when the memory grows, which detaches
  // the old buffer (its length drops to zero).
  #refreshViews() {
    this.u8 = new Uint8Array(this.memory.buffer);
    this.dv = new DataView(this.memory.buffer);
  }

  #mem() {
    if (this.u8.byteLength === 0) this.#refreshViews();
    return this.u8;
  }

  #view() {
    if (this.u8.byteLength === 0) this.#refreshViews();
    return this.dv;
  }

  // Wasm passes i32 arguments to JavaScript as signed numbers; addresses
  // and lengths are unsigned (>>> 0).

  // bytes returns a copy: the guest may reuse the memory after the call.
  #bytes(ptr, len) {
    ptr >>>= 0;
    return this.#mem().slice(ptr, ptr + (len >>> 0));
  }

  #string(ptr, len) {
    ptr >>>= 0;
    return latin1(this.#mem().subarray(ptr, ptr + (len >>> 0)));
  }

  // give hands data to the guest as Envoy does: in a block the guest
  // allocates itself, whose address and length go to the two out-pointers.
  #give(data, retPtr, retLen) {
    const n = data.byteLength;
    const p = this.allocate(n) >>> 0;
    if (p === 0 && n > 0) return Status.InvalidMemoryAccess;
    this.#mem().set(data, p); // after the call: allocating may grow memory
    const dv = this.#view();
    dv.setUint32(retPtr >>> 0, p, true);
    dv.setUint32(retLen >>> 0, n, true);
    return Status.OK;
  }

  #buffer(type) {
    const s = this.stream;
    switch (type) {
      case BufferType.HttpRequestBody: return s ? s.requestBody : null;
      case BufferType.HttpResponseBody: return s ? s.responseBody : null;
      case BufferType.VmConfiguration: return this.vmConfig;
      case BufferType.PluginConfiguration: return this.pluginConfig;
    }
    return null;
  }

  #setBuffer(type, data) {
    const s = this.stream;
    if (!s) return false;
    if (type === BufferType.HttpRequestBody) s.requestBody = data;
    else if (type === BufferType.HttpResponseBody) s.responseBody = data;
    else return false;
    return true;
  }

  #headers(type) {
    const s = this.stream;
    if (!s) return null;
    if (type === MapType.HttpRequestHeaders) return s.requestHeaders;
    if (type === MapType.HttpResponseHeaders) return s.responseHeaders;
    return null;
  }

  #envImports() {
    const host = this;
    const impl = {
      proxy_log(level, ptr, len) {
        host.log(level, host.#string(ptr, len));
        return Status.OK;
      },
      proxy_get_log_level(retPtr) {
        host.#view().setUint32(retPtr, 2, true); // info, Envoy's default
        return Status.OK;
      },
      // No properties (node metadata, request attributes) are modelled;
      // NotFound is what Envoy answers for a path it does not know.
      proxy_get_property(pathPtr, pathLen, retPtr, retLen) { return Status.NotFound; },
      proxy_set_property() { return Status.OK; },
      proxy_get_buffer_status(type, lenPtr, flagsPtr) {
        const b = host.#buffer(type);
        if (!b) return Status.NotFound;
        host.#view().setUint32(lenPtr, b.byteLength, true);
        host.#view().setUint32(flagsPtr, 0, true);
        return Status.OK;
      },
      proxy_get_buffer_bytes(type, start, max, retPtr, retLen) {
        start >>>= 0;
        max >>>= 0;
        const b = host.#buffer(type);
        if (!b) return Status.NotFound;
        if (start > b.byteLength) return Status.BadArgument;
        const end = Math.min(b.byteLength, start + max);
        return host.#give(b.subarray(start, end), retPtr, retLen);
      },
      // Replaces len bytes at start with the data: start 0 and a length at
      // least the buffer's replace it whole, as in Envoy.
      proxy_set_buffer_bytes(type, start, len, ptr, size) {
        start >>>= 0;
        len >>>= 0;
        size >>>= 0;
        const b = host.#buffer(type);
        if (!b) return Status.NotFound;
        if (start > b.byteLength) return Status.BadArgument;
        const data = host.#bytes(ptr, size);
        let out;
        if (start === 0 && len >= b.byteLength) out = data;
        else {
          const end = Math.min(b.byteLength, start + len);
          out = new Uint8Array(start + size + (b.byteLength - end));
          out.set(b.subarray(0, start), 0);
          out.set(data, start);
          out.set(b.subarray(end), start + size);
        }
        return host.#setBuffer(type, out) ? Status.OK : Status.NotFound;
      },
      proxy_get_header_map_pairs(type, retPtr, retLen) {
        const hs = host.#headers(type);
        if (!hs) return Status.NotFound;
        return host.#give(encodeHeaders(hs), retPtr, retLen);
      },
      proxy_set_header_map_pairs(type, ptr, len) {
        const hs = host.#headers(type);
        if (!hs) return Status.NotFound;
        hs.length = 0;
        for (const [k, v] of decodeHeaders(host.#bytes(ptr, len))) hs.push([k.toLowerCase(), v]);
        return Status.OK;
      },
      proxy_get_header_map_size(type, retPtr) {
        const hs = host.#headers(type);
        if (!hs) return Status.NotFound;
        host.#view().setUint32(retPtr, encodeHeaders(hs).byteLength, true);
        return Status.OK;
      },
      proxy_get_header_map_value(type, kPtr, kLen, retPtr, retLen) {
        const hs = host.#headers(type);
        if (!hs) return Status.NotFound;
        const k = host.#string(kPtr, kLen).toLowerCase();
        for (const [hk, hv] of hs) {
          if (hk === k) return host.#give(Buffer.from(hv, 'latin1'), retPtr, retLen);
        }
        return Status.NotFound;
      },
      proxy_add_header_map_value(type, kPtr, kLen, vPtr, vLen) {
        const hs = host.#headers(type);
        if (!hs) return Status.NotFound;
        hs.push([host.#string(kPtr, kLen).toLowerCase(), host.#string(vPtr, vLen)]);
        return Status.OK;
      },
      // Envoy's replace sets the first entry of the name and drops any
      // others, or adds one.
      proxy_replace_header_map_value(type, kPtr, kLen, vPtr, vLen) {
        const hs = host.#headers(type);
        if (!hs) return Status.NotFound;
        const k = host.#string(kPtr, kLen).toLowerCase(), v = host.#string(vPtr, vLen);
        const i = hs.findIndex(([hk]) => hk === k);
        if (i < 0) { hs.push([k, v]); return Status.OK; }
        hs[i] = [k, v];
        for (let j = hs.length - 1; j > i; j--) if (hs[j][0] === k) hs.splice(j, 1);
        return Status.OK;
      },
      proxy_remove_header_map_value(type, kPtr, kLen) {
        const hs = host.#headers(type);
        if (!hs) return Status.NotFound;
        const k = host.#string(kPtr, kLen).toLowerCase();
        for (let j = hs.length - 1; j >= 0; j--) if (hs[j][0] === k) hs.splice(j, 1);
        return Status.OK;
      },
      proxy_send_local_response(status, dPtr, dLen, bPtr, bLen, hPtr, hLen, grpcStatus) {
        const s = host.stream;
        if (!s) return Status.NotFound;
        s.localResponse = {
          status, details: host.#string(dPtr, dLen), body: host.#bytes(bPtr, bLen),
          headers: decodeHeaders(host.#bytes(hPtr, hLen)), grpcStatus,
        };
        return Status.OK;
      },
      proxy_set_effective_context(id) { host.effectiveContext = id; return Status.OK; },
      proxy_get_current_time_nanoseconds(retPtr) {
        host.#view().setBigUint64(retPtr, BigInt(Date.now()) * 1000000n, true);
        return Status.OK;
      },
      proxy_set_tick_period_milliseconds(ms) { host.tickPeriod = ms; return Status.OK; },
      proxy_done() { return Status.OK; },
      proxy_continue_stream(type) { if (host.stream) host.stream.continued++; return Status.OK; },
      proxy_close_stream() { return Status.OK; },
      proxy_continue_request() { if (host.stream) host.stream.continued++; return Status.OK; },
      proxy_continue_response() { if (host.stream) host.stream.continued++; return Status.OK; },
      // Metrics are accepted and dropped: the filter's work does not
      // depend on them.
      proxy_define_metric(type, nPtr, nLen, retPtr) { host.#view().setUint32(retPtr, 1, true); return Status.OK; },
      proxy_increment_metric() { return Status.OK; },
      proxy_record_metric() { return Status.OK; },
      proxy_get_metric(id, retPtr) { host.#view().setBigUint64(retPtr, 0n, true); return Status.OK; },
    };
    // Only what the module imports is provided, and an import this host
    // does not implement fails the load: a silent stub would hide a code
    // path the benchmark never exercised.
    const env = {};
    const missing = [];
    for (const imp of WebAssembly.Module.imports(this.module)) {
      if (imp.module !== 'env') continue;
      if (imp.kind !== 'function' || !impl[imp.name]) missing.push(imp.name);
      else env[imp.name] = impl[imp.name];
    }
    if (missing.length) throw new Error(`host does not implement env imports: ${missing.join(', ')}`);
    return env;
  }
}

function toBytes(v) {
  return typeof v === 'string' ? Buffer.from(v) : new Uint8Array(v);
}
