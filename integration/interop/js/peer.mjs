// peer.mjs drives one WAMP client library written by others (Autobahn|JS or
// wampy.js) through one interop scenario and prints the outcome as a single
// JSON line on stdout. It exits non-zero, with the reason on stderr and in an
// {"ok":false,...} line, when the scenario fails.
//
// Usage:
//
//	node peer.mjs --lib autobahn|wampy --url ws://127.0.0.1:PORT/ \
//	    --realm REALM --serializer json|msgpack|cbor --scenario NAME \
//	    [--prefix URI_PREFIX] [--timeout MS] [--params JSON]
//	    [--authmethod ticket|wampcra|cryptosign --authid ID --secret SECRET
//	     [--pubkey HEX]] [--ca FILE]
//
// A RawSocket URL is written rs://127.0.0.1:PORT (Autobahn|JS only; it speaks
// JSON only over RawSocket). A wss:// URL is dialed with TLS trusting the
// CA certificates of the PEM file --ca (and Node's own). Every option may
// also come from the environment: WAMP_LIB, WAMP_URL, WAMP_REALM,
// WAMP_SERIALIZER, WAMP_SCENARIO, WAMP_PREFIX, WAMP_TIMEOUT, WAMP_PARAMS,
// WAMP_CA.
//
// Scenarios (PREFIX defaults to "wampkit.interop"; the Go test serves the
// other side):
//
//	join       join the realm, report the session ID and the router's roles
//	call       call PREFIX.echo with the standard payload, report the result
//	binary     call PREFIX.echo with 256 bytes 0x00..0xff, report them as hex
//	error      call PREFIX.fail, report the application error
//	publish    publish the standard payload to PREFIX.topic (acknowledged)
//	subscribe  subscribe to PREFIX.topic, print {"ready":true,"session":N},
//	           report the first event (and its publisher, if disclosed)
//	callee     register PREFIX.echo (returns its arguments), PREFIX.fail
//	           (raises wampkit.interop.error.app), PREFIX.whoami (returns
//	           the disclosed caller), PREFIX.pfx (match prefix) and
//	           PREFIX.wc..leaf (match wildcard), both returning
//	           [match, INVOCATION.Details.procedure], and PREFIX.stop; print
//	           {"ready":true};
//	           report the invocations when PREFIX.stop is called
//
// Advanced-profile scenarios, for features the router announces:
//
//	call_pattern  call PREFIX.gpfx.x.y (the Go side registered PREFIX.gpfx
//	              with match prefix)
//	progress      call PREFIX.progress asking for progressive results
//	disclose      call PREFIX.whoami with disclose_me
//	cancel        call PREFIX.slow, CANCEL (mode kill) on its first
//	              progressive result, report the error
//	cancel_killnowait  the same with CANCEL mode killnowait
//	publish_self  subscribe to PREFIX.topic, publish there with
//	              exclude_me=false and disclose_me, report the own event
//	pattern       subscribe to PREFIX.pfx (prefix) and PREFIX.wc..leaf
//	              (wildcard), print ready, report one event of each
//	timeout       call PREFIX.slow (never answers) with CALL.Options.timeout
//	              300 ms, report the error (the dealer's wamp.error.timeout)
//	shared        register PREFIX.shared.{roundrobin,random,first,last}
//	              with that invocation policy and PREFIX.shared.single, each
//	              returning [own session]; print ready with the outcome of
//	              the single registration; leave when PREFIX.stop.SESSION is
//	              called; report how often each was invoked
//	filtered      publish to PREFIX.topic three times: exclude [params.session],
//	              exclude_authid [params.authid], then eligible
//	              [params.session] with eligible_authrole ["anonymous"]
//	meta          subscribe to wamp.session.on_join/on_leave, call
//	              wamp.session.count/list/get, register PREFIX.meta_get(S)
//	              (wamp.session.get(S) and S's on_join), PREFIX.meta_left(S)
//	              (S's on_leave and wamp.session.get(S)'s error) and PREFIX.stop
//	kill_all      wamp.session.kill_all with reason and message (own router!)
//	kill          wamp.session.kill(params.session), kill_by_authid(params.authid)
//	              with reason and message, and the refusals (own session,
//	              a reason that is no URI, wamp.session.get(params.unknown))
//	progressive_call  (wampy only) call PREFIX.upload with progressive call
//	              invocations: chunks ["a"], ["b"], ["c"] and the final
//	              ["d"], asking for progressive results; report them and
//	              the result. wampy 8.0.2 implements progressiveCall but does
//	              not announce progressive_call_invocations in HELLO; with
//	              --announce-progressive-invocations the script adds the flag
//	              to wampy's caller features before it connects.
//
// --params takes a JSON object for the scenarios that need values from the
// Go side (session IDs, authids).
//
// Lines on stdout: at most one {"ready":true} line, then exactly one result
// line. Binary values in results are written as {"$hex":"..."}.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const require = createRequire(import.meta.url);

// The standard payload; the Go test holds the same values (payload.go).
export const ARGS = ['hello', 42, -7, 3.5, true, null, [1, 'two'], { k: 'v' }];
export const KWARGS = {
  s: 'ünïcødé ✓',
  i: 123456789,
  f: 0.25,
  b: false,
  n: null,
  l: [1, 2, 3],
  d: { x: { y: 'z' } },
};
export const ERROR_URI = 'wampkit.interop.error.app';
export const ERROR_ARGS = ['failed on purpose', 7];
export const ERROR_KWARGS = { why: 'asked to', code: 42 };

function binaryPayload() {
  const b = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) b[i] = i;
  return b;
}

const { values: opts } = parseArgs({
  options: {
    lib: { type: 'string', default: process.env.WAMP_LIB },
    url: { type: 'string', default: process.env.WAMP_URL },
    realm: { type: 'string', default: process.env.WAMP_REALM ?? 'realm1' },
    serializer: { type: 'string', default: process.env.WAMP_SERIALIZER ?? 'json' },
    scenario: { type: 'string', default: process.env.WAMP_SCENARIO },
    prefix: { type: 'string', default: process.env.WAMP_PREFIX ?? 'wampkit.interop' },
    timeout: { type: 'string', default: process.env.WAMP_TIMEOUT ?? '20000' },
    params: { type: 'string', default: process.env.WAMP_PARAMS ?? '{}' },
    // Authentication: ticket, wampcra (salted or not) or cryptosign, with
    // --authid and --secret.
    authmethod: { type: 'string', default: process.env.WAMP_AUTHMETHOD },
    authid: { type: 'string', default: process.env.WAMP_AUTHID },
    secret: { type: 'string', default: process.env.WAMP_SECRET },
    // cryptosign: --secret is the hex seed; --pubkey overrides the
    // announced key (to sign with a key other than the announced one).
    pubkey: { type: 'string', default: process.env.WAMP_PUBKEY },
    // wampy only: announce progressive_call_invocations as caller (see the
    // progressive_call scenario).
    'announce-progressive-invocations': { type: 'boolean', default: false },
    // wss://: a PEM file of CA certificates to trust besides Node's.
    ca: { type: 'string', default: process.env.WAMP_CA },
  },
});

// TlsWebSocket is the ws package's WebSocket with --ca added to its TLS
// options. Neither library passes TLS options of its own: Autobahn|JS
// calls new WebSocket(url, protocols) on the global (lib/transport/
// websocket.js), wampy new ws(url, protocols, null, headers, options),
// whose third argument ws reads as its options (null).
let TlsWebSocket = WebSocket;
if (opts.ca) {
  const ca = [...tls.rootCertificates, readFileSync(opts.ca)];
  TlsWebSocket = class extends WebSocket {
    constructor(address, protocols, options) {
      super(address, protocols, { ...(options ?? {}), ca });
    }
  };
}

// plain turns values decoded by any serializer into JSON-friendly values:
// bytes become {"$hex": ...}, BigInt a number (or a string when too large).
function plain(v) {
  if (v instanceof Uint8Array) return { $hex: Buffer.from(v).toString('hex') };
  if (v instanceof ArrayBuffer) return { $hex: Buffer.from(v).toString('hex') };
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(plain(obj)) + '\n');
}

function fail(msg) {
  emit({ ok: false, error: String(msg) });
  process.stderr.write(`peer.mjs ${opts.lib}/${opts.serializer}/${opts.scenario}: ${msg}\n`);
  process.exit(1);
}

for (const k of ['lib', 'url', 'scenario']) {
  if (!opts[k]) fail(`missing --${k}`);
}
const timer = setTimeout(() => fail(`timed out after ${opts.timeout} ms`), Number(opts.timeout));

// registerOptions maps the scenarios' register options to REGISTER.Options.
function registerOptions(o) {
  const options = {};
  if (o.match) options.match = o.match;
  if (o.invoke) options.invoke = o.invoke;
  return Object.keys(options).length ? options : undefined;
}

// A session is the small API both adapters offer to the scenarios.
//   info: {session, roles}
//   call(uri, args, kwargs) -> {args, kwargs}; rejects with {error, args, kwargs}
//   register(uri, fn(args, kwargs, details) -> {args, kwargs}; throws AppError)
//   publish(uri, args, kwargs) -> {publication}
//   subscribe(uri, fn(args, kwargs, details))
//   leave()
class AppError extends Error {
  constructor(uri, args, kwargs) {
    super(uri);
    this.uri = uri;
    this.args = args;
    this.kwargs = kwargs;
  }
}

// publishOptions maps the scenarios' publish options to PUBLISH.Options;
// o.filters holds black- and whitelists (exclude, eligible_authrole, ...)
// as the spec names them.
function publishOptions(o) {
  const options = { ...(o.filters ?? {}) };
  if (o.excludeMe !== undefined) options.exclude_me = o.excludeMe;
  if (o.discloseMe) options.disclose_me = true;
  return options;
}

const params = JSON.parse(opts.params);

async function autobahnSession() {
  // Autobahn|JS uses the global WebSocket of Node 22+; give Node 20 the ws
  // one, and either the ws one with --ca (Node's own takes no CA).
  if (opts.ca) globalThis.WebSocket = TlsWebSocket;
  globalThis.WebSocket ??= WebSocket;
  const autobahn = require('autobahn');
  const ser = {
    json: () => new autobahn.serializer.JSONSerializer(),
    msgpack: () => new autobahn.serializer.MsgpackSerializer(),
    cbor: () => new autobahn.serializer.CBORSerializer(),
    // "any": offer Autobahn|JS's default list and let the router choose.
    any: () => undefined,
  }[opts.serializer];
  if (!ser) fail(`autobahn: unknown serializer ${opts.serializer}`);
  let transport;
  const u = new URL(opts.url);
  if (u.protocol === 'rs:' || u.protocol === 'tcp:') {
    if (opts.serializer !== 'json') fail('autobahn: RawSocket in Node speaks JSON only');
    transport = { type: 'rawsocket', host: u.hostname, port: Number(u.port) };
  } else {
    transport = { type: 'websocket', url: opts.url };
    if (ser()) transport.serializers = [ser()];
  }
  const auth = {};
  if (opts.authmethod) {
    auth.authmethods = [opts.authmethod];
    auth.authid = opts.authid;
    let key;
    if (opts.authmethod === 'cryptosign') {
      key = autobahn.nacl.sign.keyPair.fromSeed(Buffer.from(opts.secret, 'hex'));
      auth.authextra = { pubkey: opts.pubkey || autobahn.auth_cryptosign.public_key(key) };
    }
    auth.onchallenge = (session, method, extra) => {
      if (method === 'ticket') return opts.secret;
      if (method === 'wampcra') {
        // Salted WAMP-CRA: the HMAC key is the derived key's base64 text.
        const k = extra.salt
          ? autobahn.auth_cra.derive_key(opts.secret, extra.salt, extra.iterations, extra.keylen)
          : opts.secret;
        return autobahn.auth_cra.sign(k, extra.challenge);
      }
      if (method === 'cryptosign') return autobahn.auth_cryptosign.sign_challenge(key, extra);
      throw new Error(`unexpected challenge ${method}`);
    };
  }
  const conn = new autobahn.Connection({
    realm: opts.realm,
    transports: [transport],
    max_retries: 0,
    retry_if_unreachable: false,
    ...auth,
  });
  const session = await new Promise((resolve, reject) => {
    conn.onopen = (s, details) => resolve({ s, details });
    conn.onclose = (reason, details) => {
      reject(new Error(`connection closed before join: ${reason} ${JSON.stringify(details)}`));
      return true; // do not retry
    };
    conn.open();
  });
  const s = session.s;
  // After the join, the router ending the session (GOODBYE, ABORT, a lost
  // transport) fails the scenario at once, with the reason.
  let leaving = false;
  conn.onclose = (reason, details) => {
    if (!leaving) fail(`session closed by the router: ${reason} ${JSON.stringify(details)}`);
    return true;
  };
  const wrapErr = (e) => {
    if (e instanceof autobahn.Error) return { error: e.error, args: e.args, kwargs: e.kwargs };
    return e;
  };
  return {
    info: { session: s.id, roles: session.details.roles, details: session.details, protocol: conn.transport?.info?.protocol },
    // call options: onProgress(args, kwargs), discloseMe, timeout (ms),
    // cancelOnProgress (send CANCEL with mode cancelMode, default "kill",
    // when the first progressive result arrives).
    async call(uri, args, kwargs, o = {}) {
      // Autobahn|JS returns a bare value for a single positional result
      // and no kwargs, and a Result object otherwise.
      // A RESULT without Arguments comes back as null (session.js
      // _process_RESULT), so [] and [null] look alike; report [].
      const unpack = (r) => {
        if (r instanceof autobahn.Result) return { args: r.args ?? [], kwargs: r.kwargs ?? {} };
        return { args: r === undefined || r === null ? [] : [r], kwargs: {} };
      };
      const options = {};
      if (o.onProgress || o.cancelOnProgress) options.receive_progress = true;
      if (o.discloseMe) options.disclose_me = true;
      if (o.timeout) options.timeout = o.timeout;
      const p = s.call(uri, args, kwargs, options);
      try {
        // Progressive results arrive through the third callback of the
        // when.js promise Autobahn|JS uses.
        return unpack(await new Promise((resolve, reject) => {
          p.then(resolve, reject, (r) => {
            if (o.onProgress) o.onProgress(unpack(r).args, unpack(r).kwargs);
            if (o.cancelOnProgress) p.cancel({ mode: o.cancelMode ?? 'kill' });
          });
        }));
      } catch (e) {
        throw wrapErr(e);
      }
    },
    // register options: match, invoke. fn may return a promise.
    async register(uri, fn, o = {}) {
      const options = registerOptions(o);
      await s.register(uri, async (args, kwargs, details) => {
        try {
          const r = await fn(args ?? [], kwargs ?? {}, { caller: details?.caller, procedure: details?.procedure });
          return new autobahn.Result(r.args, r.kwargs);
        } catch (e) {
          if (e instanceof AppError) throw new autobahn.Error(e.uri, e.args, e.kwargs);
          throw e;
        }
      }, options);
    },
    async publish(uri, args, kwargs, o = {}) {
      try {
        const p = await s.publish(uri, args, kwargs, { acknowledge: true, ...publishOptions(o) });
        return { publication: p.id };
      } catch (e) {
        throw wrapErr(e);
      }
    },
    async subscribe(uri, fn, o = {}) {
      const options = o.match ? { match: o.match } : undefined;
      await s.subscribe(uri, (args, kwargs, details) => fn(args ?? [], kwargs ?? {}, { publisher: details?.publisher, topic: details?.topic }), options);
    },
    async leave() {
      leaving = true;
      await new Promise((resolve) => {
        conn.onclose = () => {
          resolve();
          return true;
        };
        conn.close();
      });
    },
  };
}

async function wampySession() {
  const { Wampy } = await import('wampy');
  const ser = {
    json: async () => new (await import('wampy/JsonSerializer.js')).JsonSerializer(),
    msgpack: async () => new (await import('wampy/MsgpackSerializer.js')).MsgpackSerializer(),
    cbor: async () => new (await import('wampy/CborSerializer.js')).CborSerializer(),
  }[opts.serializer];
  if (!ser) fail(`wampy: unknown serializer ${opts.serializer}`);
  if (!opts.url.startsWith('ws')) fail('wampy: WebSocket only');
  const auth = {};
  if (opts.authmethod) {
    // wampy's own plugins: wampcra's sign handles the salted variant,
    // cryptosign's sign takes the hex seed.
    const cra = await import('wampy/wampcra.js');
    const cs = await import('wampy/cryptosign.js');
    auth.authmethods = [opts.authmethod];
    auth.authid = opts.authid;
    if (opts.authmethod === 'cryptosign') {
      const { default: nacl } = await import('tweetnacl');
      const pub = nacl.sign.keyPair.fromSeed(Buffer.from(opts.secret, 'hex')).publicKey;
      auth.authextra = { pubkey: opts.pubkey || Buffer.from(pub).toString('hex') };
    }
    auth.onChallenge = (method, extra) => {
      if (method === 'ticket') return opts.secret;
      if (method === 'wampcra') return cra.sign(opts.secret)(method, extra);
      if (method === 'cryptosign') return cs.sign(opts.secret)(method, extra);
      throw new Error(`unexpected challenge ${method}`);
    };
  }
  let leaving = false;
  const w = new Wampy(opts.url, {
    ...auth,
    // wampy's onClose gets no reason: it does not report GOODBYE's.
    onClose: () => {
      if (!leaving) fail('session closed by the router (wampy does not report the reason)');
    },
    realm: opts.realm,
    ws: TlsWebSocket,
    serializer: await ser(),
    autoReconnect: false,
    debug: false,
  });
  if (opts['announce-progressive-invocations']) {
    // wampy has no option for this; its role announcement is a field.
    w._wamp_features.roles.caller.features.progressive_call_invocations = true;
  }
  let details;
  try {
    details = await w.connect();
  } catch (e) {
    // wampy's AbortError keeps the ABORT reason in errorUri.
    if (e?.errorUri) throw new Error(`ABORT ${e.errorUri} ${JSON.stringify(e.details ?? {})}`);
    throw e;
  }
  const wrapErr = (e) => {
    // wampy rejects with a WampError (an Error) whose errorUri is the URI.
    if (e && typeof e.errorUri === 'string') {
      return { error: e.errorUri, args: e.argsList ?? [], kwargs: e.argsDict ?? {} };
    }
    return e;
  };
  return {
    info: { session: w.getSessionId(), roles: details?.roles, details },
    async call(uri, args, kwargs, o = {}) {
      const options = {};
      if (o.onProgress) options.progress_callback = ({ argsList, argsDict }) => o.onProgress(argsList ?? [], argsDict ?? {});
      if (o.discloseMe) options.disclose_me = true;
      if (o.timeout) options.timeout = o.timeout;
      let reqId;
      if (o.cancelOnProgress) {
        // wampy cancels by request ID: cancel(reqId, {mode}).
        options.progress_callback = () => w.cancel(reqId, { mode: o.cancelMode ?? 'kill' });
      }
      try {
        const p = w.call(uri, { argsList: args, argsDict: kwargs }, options);
        // call() sends CALL before its first await; opStatus has its ID.
        reqId = w.getOpStatus().reqId;
        const r = await p;
        return { args: r.argsList ?? [], kwargs: r.argsDict ?? {} };
      } catch (e) {
        throw wrapErr(e);
      }
    },
    async register(uri, fn, o = {}) {
      const options = registerOptions(o);
      await w.register(uri, async ({ argsList, argsDict, details: d }) => {
        try {
          const r = await fn(argsList ?? [], argsDict ?? {}, { caller: d?.caller, procedure: d?.procedure });
          return { argsList: r.args, argsDict: r.kwargs };
        } catch (e) {
          if (e instanceof AppError) {
            // wampy turns a thrown {error, argsList, argsDict} into ERROR.
            // eslint-disable-next-line no-throw-literal
            throw { error: e.uri, argsList: e.args, argsDict: e.kwargs };
          }
          throw e;
        }
      }, options);
    },
    async publish(uri, args, kwargs, o = {}) {
      try {
        const r = await w.publish(uri, { argsList: args, argsDict: kwargs }, { acknowledge: true, ...publishOptions(o) });
        return { publication: r?.publicationId };
      } catch (e) {
        throw wrapErr(e);
      }
    },
    async subscribe(uri, fn, o = {}) {
      let options;
      // Without options, wampy sends SUBSCRIBE.Options {match: undefined,
      // get_retained: undefined} (see README.md).
      if (o.match) options = { match: o.match };
      await w.subscribe(uri, ({ argsList, argsDict, details: d }) => fn(argsList ?? [], argsDict ?? {}, { publisher: d?.publisher, topic: d?.topic }), options);
    },
    // progressiveCall sends chunks[0] with the CALL and the others as
    // continuations, the last one final; progress collects the progressive
    // results.
    async progressiveCall(uri, chunks) {
      const progress = [];
      try {
        const { result, sendData } = w.progressiveCall(uri, { argsList: chunks[0] }, {
          progress_callback: ({ argsList }) => progress.push(argsList ?? []),
        });
        for (let i = 1; i < chunks.length; i++) {
          sendData({ argsList: chunks[i] }, { progress: i < chunks.length - 1 });
        }
        const r = await result;
        return { progress, args: r.argsList ?? [] };
      } catch (e) {
        throw wrapErr(e);
      }
    },
    async leave() {
      leaving = true;
      await w.disconnect();
    },
  };
}

const scenarios = {
  async join(s) {
    const d = s.info.details ?? {};
    return {
      session: s.info.session,
      roles: Object.keys(s.info.roles ?? {}).sort(),
      features: Object.fromEntries(Object.entries(s.info.roles ?? {}).map(([role, r]) => [
        role, Object.keys(r?.features ?? {}).filter((f) => r.features[f] === true).sort(),
      ])),
      authid: d.authid ?? null,
      authrole: d.authrole ?? null,
      authmethod: d.authmethod ?? null,
      protocol: s.info.protocol ?? null,
    };
  },
  async call(s) {
    return await s.call(`${opts.prefix}.echo`, ARGS, KWARGS);
  },
  async large(s) {
    // 1 MiB of text (and of bytes where binary works): several WebSocket
    // frames, a RawSocket length with the high bits in use.
    const text = '0123456789abcdef'.repeat(65536);
    const args = [text];
    if (opts.serializer !== 'json') args.push(Buffer.alloc(1 << 20, 0xa5));
    const r = await s.call(`${opts.prefix}.echo`, args, {});
    const lens = r.args.map((a) => a.length);
    if (r.args[0] !== text) throw new Error('1 MiB string came back changed');
    if (args.length > 1 && Buffer.compare(Buffer.from(r.args[1]), args[1]) !== 0) throw new Error('1 MiB of bytes came back changed');
    return { lens };
  },
  async binary(s) {
    const r = await s.call(`${opts.prefix}.echo`, [binaryPayload()], {});
    const got = r.args[0];
    if (!(got instanceof Uint8Array)) {
      throw new Error(`echoed bytes came back as ${typeof got} ${JSON.stringify(plain(got))?.slice(0, 80)}`);
    }
    return { args: r.args, kwargs: r.kwargs };
  },
  async error(s) {
    try {
      const r = await s.call(`${opts.prefix}.fail`, ['please fail'], {});
      throw new Error(`call succeeded, want an error: ${JSON.stringify(plain(r))}`);
    } catch (e) {
      if (e instanceof Error) throw e;
      return { error: e.error, args: e.args ?? [], kwargs: e.kwargs ?? {} };
    }
  },
  async publish(s) {
    return await s.publish(`${opts.prefix}.topic`, ARGS, KWARGS);
  },
  async subscribe(s) {
    let got;
    const first = new Promise((resolve) => {
      got = resolve;
    });
    await s.subscribe(`${opts.prefix}.topic`, (args, kwargs, d) => got({ args, kwargs, publisher: d.publisher ?? null }));
    emit({ ready: true, session: s.info.session });
    return await first;
  },
  // Advanced profile, where the router announces the feature.
  async progress(s) {
    const progress = [];
    const r = await s.call(`${opts.prefix}.progress`, ['count'], {}, { onProgress: (args) => progress.push(args) });
    return { progress, args: r.args };
  },
  async call_pattern(s) {
    const r = await s.call(`${opts.prefix}.gpfx.x.y`, [], {});
    return { args: r.args };
  },
  async disclose(s) {
    const r = await s.call(`${opts.prefix}.whoami`, [], {}, { discloseMe: true });
    return { session: s.info.session, args: r.args };
  },
  async cancel(s) {
    try {
      const r = await s.call(`${opts.prefix}.slow`, [], {}, { cancelOnProgress: true });
      throw new Error(`call succeeded, want it canceled: ${JSON.stringify(plain(r))}`);
    } catch (e) {
      if (e instanceof Error) throw e;
      return { error: e.error, args: e.args ?? [], kwargs: e.kwargs ?? {} };
    }
  },
  async publish_self(s) {
    let got;
    const own = new Promise((resolve) => {
      got = resolve;
    });
    await s.subscribe(`${opts.prefix}.topic`, (args, kwargs, d) => got({ args, kwargs, publisher: d.publisher ?? null }));
    const p = await s.publish(`${opts.prefix}.topic`, ['self'], { k: 'v' }, { excludeMe: false, discloseMe: true });
    if (opts.lib === 'wampy') {
      // wampy 8.0.2 sends exclude_me only when it is true
      // (`...exclude_me ? { exclude_me } : {}`), so it cannot ask for its
      // own events: the router rightly excludes the publisher.
      return { session: s.info.session, publication: p.publication, own: null };
    }
    return { session: s.info.session, publication: p.publication, own: await own };
  },
  async pattern(s) {
    const events = [];
    let done;
    const both = new Promise((resolve) => {
      done = resolve;
    });
    const on = (via) => (args, kwargs, d) => {
      events.push({ via, topic: d.topic ?? null, args });
      if (events.length === 2) done();
    };
    await s.subscribe(`${opts.prefix}.pfx`, on('prefix'), { match: 'prefix' });
    await s.subscribe(`${opts.prefix}.wc..leaf`, on('wildcard'), { match: 'wildcard' });
    emit({ ready: true, session: s.info.session });
    await both;
    events.sort((a, b) => (a.via < b.via ? -1 : 1));
    return { events };
  },
  async cancel_killnowait(s) {
    // CANCEL mode killnowait: ERROR wamp.error.canceled at once.
    try {
      const r = await s.call(`${opts.prefix}.slow`, [], {}, { cancelOnProgress: true, cancelMode: 'killnowait' });
      throw new Error(`call succeeded, want it canceled: ${JSON.stringify(plain(r))}`);
    } catch (e) {
      if (e instanceof Error) throw e;
      return { error: e.error, args: e.args ?? [], kwargs: e.kwargs ?? {} };
    }
  },
  async timeout(s) {
    // Dealer-initiated call timeout: PREFIX.slow never answers by itself.
    try {
      const r = await s.call(`${opts.prefix}.slow`, [], {}, { timeout: 300 });
      throw new Error(`call succeeded, want a timeout: ${JSON.stringify(plain(r))}`);
    } catch (e) {
      if (e instanceof Error) throw e;
      return { error: e.error, args: e.args ?? [], kwargs: e.kwargs ?? {} };
    }
  },
  async shared(s) {
    const me = s.info.session;
    const counts = {};
    const answer = (policy) => () => {
      counts[policy] = (counts[policy] ?? 0) + 1;
      return { args: [me], kwargs: {} };
    };
    for (const policy of ['roundrobin', 'random', 'first', 'last']) {
      await s.register(`${opts.prefix}.shared.${policy}`, answer(policy), { invoke: policy });
    }
    // The first registrant of PREFIX.shared.single holds it alone: a
    // second REGISTER gets wamp.error.procedure_already_exists.
    let single = 'registered';
    try {
      await s.register(`${opts.prefix}.shared.single`, answer('single'), { invoke: 'single' });
    } catch (e) {
      single = e?.error ?? e?.errorUri ?? String(e);
    }
    // A later registrant must ask for the policy of the first one:
    // PREFIX.shared.mixed is registered with "first" by the first callee
    // and "last" by the others, who must be refused.
    let mixed = 'registered';
    try {
      await s.register(`${opts.prefix}.shared.mixed`, answer('mixed'), { invoke: single === 'registered' ? 'first' : 'last' });
    } catch (e) {
      mixed = e?.error ?? e?.errorUri ?? String(e);
    }
    let stop;
    const stopped = new Promise((resolve) => {
      stop = resolve;
    });
    await s.register(`${opts.prefix}.stop.${me}`, () => {
      setImmediate(stop);
      return { args: [], kwargs: {} };
    });
    emit({ ready: true, session: me, single, mixed });
    await stopped;
    return { session: me, counts };
  },
  async filtered(s) {
    // Subscriber black- and whitelisting by a publisher of this library:
    // only the third publication may reach the Go subscriber.
    const topic = `${opts.prefix}.topic`;
    await s.publish(topic, ['excluded by session'], {}, { filters: { exclude: [params.session] } });
    await s.publish(topic, ['excluded by authid'], {}, { filters: { exclude_authid: [params.authid] } });
    await s.publish(topic, ['eligible'], { k: 'v' }, { filters: { eligible: [params.session], eligible_authrole: ['anonymous'] } });
    return {};
  },
  async meta(s) {
    const me = s.info.session;
    const joined = new Map(); // session -> on_join details
    const left = new Map(); // session -> on_leave args
    const waiters = [];
    const wake = () => waiters.splice(0).forEach((f) => f());
    const until = async (pred) => {
      while (!pred()) await new Promise((resolve) => waiters.push(resolve));
    };
    // Meta events go to every session of the realm: keep them all, the
    // scenario asks for the Go session's.
    await s.subscribe('wamp.session.on_join', (args) => {
      joined.set(Number(args[0]?.session), args[0]);
      wake();
    }, { match: 'exact' });
    await s.subscribe('wamp.session.on_leave', (args) => {
      left.set(Number(args[0]), args);
      wake();
    }, { match: 'exact' });
    const count = (await s.call('wamp.session.count', [], {})).args[0];
    const countAnon = (await s.call('wamp.session.count', [['anonymous']], {})).args[0];
    const countNobody = (await s.call('wamp.session.count', [['wampkit-nobody']], {})).args[0];
    const list = (await s.call('wamp.session.list', [], {})).args[0];
    const self = (await s.call('wamp.session.get', [me], {})).args[0];
    await s.register(`${opts.prefix}.meta_get`, async (args) => {
      const id = Number(args[0]);
      const get = (await s.call('wamp.session.get', [id], {})).args[0];
      await until(() => joined.has(id));
      return { args: [get, joined.get(id)], kwargs: {} };
    });
    await s.register(`${opts.prefix}.meta_left`, async (args) => {
      const id = Number(args[0]);
      await until(() => left.has(id));
      let after = 'no error';
      try {
        await s.call('wamp.session.get', [id], {});
      } catch (e) {
        after = e?.error ?? String(e);
      }
      return { args: [left.get(id), after], kwargs: {} };
    });
    let stop;
    const stopped = new Promise((resolve) => {
      stop = resolve;
    });
    await s.register(`${opts.prefix}.stop`, () => {
      setImmediate(stop);
      return { args: [], kwargs: {} };
    });
    emit({ ready: true, session: me, count, count_anonymous: countAnon, count_nobody: countNobody, list, self });
    await stopped;
    return { session: me };
  },
  async kill(s) {
    const reason = 'wampkit.interop.kicked';
    const message = `killed by ${opts.lib}`;
    const errOf = async (uri, args, kwargs) => {
      try {
        const r = await s.call(uri, args, kwargs);
        return `no error: ${JSON.stringify(plain(r))}`;
      } catch (e) {
        if (e instanceof Error) throw e;
        return e.error;
      }
    };
    const out = {};
    out.kill = (await s.call('wamp.session.kill', [params.session], { reason, message })).args;
    out.kill_by_authid = (await s.call('wamp.session.kill_by_authid', [params.authid], { reason, message })).args;
    out.kill_by_authrole = (await s.call('wamp.session.kill_by_authrole', ['wampkit-nobody'], {})).args;
    out.kill_self = await errOf('wamp.session.kill', [s.info.session], {});
    out.kill_bad_reason = await errOf('wamp.session.kill', [params.session], { reason: 'not a URI' });
    out.get_unknown = await errOf('wamp.session.get', [params.unknown], {});
    return out;
  },
  async kill_all(s) {
    // Every other session of the realm; the router gives the count.
    const r = await s.call('wamp.session.kill_all', [], { reason: 'wampkit.interop.kicked', message: `killed by ${opts.lib}` });
    return { args: r.args };
  },
  async progressive_call(s) {
    if (!s.progressiveCall) throw new Error(`${opts.lib}: no progressive call invocations`);
    return await s.progressiveCall(`${opts.prefix}.upload`, [['a'], ['b'], ['c'], ['d']]);
  },
  async callee(s) {
    const invocations = [];
    let stop;
    const stopped = new Promise((resolve) => {
      stop = resolve;
    });
    await s.register(`${opts.prefix}.echo`, (args, kwargs) => {
      invocations.push('echo');
      return { args, kwargs };
    });
    await s.register(`${opts.prefix}.fail`, () => {
      invocations.push('fail');
      throw new AppError(ERROR_URI, ERROR_ARGS, ERROR_KWARGS);
    });
    await s.register(`${opts.prefix}.whoami`, (args, kwargs, d) => {
      invocations.push('whoami');
      return { args: [d.caller ?? null], kwargs: {} };
    });
    await s.register(`${opts.prefix}.pfx`, (args, kwargs, d) => {
      invocations.push('pfx');
      return { args: ['prefix', d.procedure ?? null], kwargs: {} };
    }, { match: 'prefix' });
    await s.register(`${opts.prefix}.wc..leaf`, (args, kwargs, d) => {
      invocations.push('wc');
      return { args: ['wildcard', d.procedure ?? null], kwargs: {} };
    }, { match: 'wildcard' });
    // PREFIX.hang answers only when PREFIX.release is called: a call
    // with a dealer timeout ends first, and this callee (which announces
    // no call canceling) gets no INTERRUPT; its late YIELD is discarded.
    let release;
    const released = new Promise((resolve) => {
      release = resolve;
    });
    await s.register(`${opts.prefix}.hang`, async () => {
      invocations.push('hang');
      await released;
      return { args: ['late'], kwargs: {} };
    });
    await s.register(`${opts.prefix}.release`, () => {
      invocations.push('release');
      release();
      return { args: [], kwargs: {} };
    });
    await s.register(`${opts.prefix}.stop`, () => {
      invocations.push('stop');
      // Answer first, then leave.
      setImmediate(stop);
      return { args: [], kwargs: {} };
    });
    emit({ ready: true });
    await stopped;
    return { invocations };
  },
};

async function main() {
  const scenario = scenarios[opts.scenario];
  if (!scenario) fail(`unknown scenario ${opts.scenario}`);
  const mk = { autobahn: autobahnSession, wampy: wampySession }[opts.lib];
  if (!mk) fail(`unknown lib ${opts.lib}`);
  const s = await mk();
  const result = await scenario(s);
  await s.leave();
  clearTimeout(timer);
  emit({ ok: true, lib: opts.lib, serializer: opts.serializer, scenario: opts.scenario, ...result });
  process.exit(0);
}

main().catch((e) => fail(e instanceof Error ? (e.stack ?? e.message) : JSON.stringify(plain(e))));
