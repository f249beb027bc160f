#!/usr/bin/python3
"""peer.py drives Autobahn|Python (asyncio) through one interop scenario.

It prints the outcome as a single JSON line on stdout and exits non-zero,
with the reason on stderr and in an {"ok": false, ...} line, when the
scenario fails. It mirrors ../js/peer.mjs; see there for the scenarios.

Usage (Debian's python: the python3-autobahn package is visible only to it):

    /usr/bin/python3 peer.py --url ws://127.0.0.1:PORT/ --realm REALM \
        --serializer json|msgpack|cbor --scenario NAME [--prefix P] [--timeout S] \
        [--params JSON] [--authmethod ticket|wampcra|cryptosign|tls --authid ID
        --secret SECRET [--pubkey HEX] [--channel-binding tls-unique]]
        [--ca FILE [--cert FILE --key FILE] [--tls-max 1.2]]

A RawSocket URL is written rs://127.0.0.1:PORT (all three serializers).
TLS: wss://HOST:PORT/ for WebSocket, rss://HOST:PORT (or tcps://) for
RawSocket; --ca is the PEM file of the CA that issued the router's
certificate, --cert and --key a client certificate and its key (for the
"tls" authmethod), --tls-max 1.2 caps the TLS version (tls-unique channel
binding is defined up to TLS 1.2 only).
Options may also come from WAMP_URL, WAMP_REALM, WAMP_SERIALIZER,
WAMP_SCENARIO, WAMP_PREFIX, WAMP_TIMEOUT and WAMP_PARAMS. --params is a
JSON object of values from the Go side (session IDs, authids) for the
filtered and kill scenarios.

Lines on stdout: at most one {"ready": true} line, then exactly one result
line. Binary values in results are written as {"$hex": "..."}.
"""

import argparse
import asyncio
import json
import os
import ssl
import sys
import urllib.parse

from autobahn.asyncio.rawsocket import WampRawSocketClientFactory, WampRawSocketClientProtocol
from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp import auth
from autobahn.wamp import serializer as wser
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, CallResult, ComponentConfig, PublishOptions, RegisterOptions, SubscribeOptions

# The standard payload; the Go test holds the same values (payload.go).
ARGS = ["hello", 42, -7, 3.5, True, None, [1, "two"], {"k": "v"}]
KWARGS = {
    "s": "ünïcødé ✓",
    "i": 123456789,
    "f": 0.25,
    "b": False,
    "n": None,
    "l": [1, 2, 3],
    "d": {"x": {"y": "z"}},
}
ERROR_URI = "wampkit.interop.error.app"
ERROR_ARGS = ["failed on purpose", 7]
ERROR_KWARGS = {"why": "asked to", "code": 42}
BINARY = bytes(range(256))


def parse_args():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=env("WAMP_URL"))
    p.add_argument("--realm", default=env("WAMP_REALM", "realm1"))
    p.add_argument("--serializer", default=env("WAMP_SERIALIZER", "json"))
    p.add_argument("--scenario", default=env("WAMP_SCENARIO"))
    p.add_argument("--prefix", default=env("WAMP_PREFIX", "wampkit.interop"))
    p.add_argument("--timeout", type=float, default=float(env("WAMP_TIMEOUT", "20")))
    # A JSON object with values from the Go side (session IDs, authids).
    p.add_argument("--params", default=env("WAMP_PARAMS", "{}"))
    # Authentication: ticket, wampcra (salted or not) or cryptosign (--secret
    # is then the hex seed), with --authid and --secret.
    p.add_argument("--authmethod", default=env("WAMP_AUTHMETHOD"))
    p.add_argument("--authid", default=env("WAMP_AUTHID"))
    p.add_argument("--secret", default=env("WAMP_SECRET"))
    # cryptosign: announce this hex public key instead of the seed's own.
    p.add_argument("--pubkey", default=env("WAMP_PUBKEY"))
    # cryptosign: bind the signature to the TLS channel; Autobahn|Python
    # knows tls-unique only (autobahn/wamp/cryptosign.py).
    p.add_argument("--channel-binding", default=env("WAMP_CHANNEL_BINDING"))
    # TLS (wss://, rss://, tcps://): the CA to trust, a client certificate
    # and key, and the highest TLS version ("1.2" or "1.3").
    p.add_argument("--ca", default=env("WAMP_CA"))
    p.add_argument("--cert", default=env("WAMP_CERT"))
    p.add_argument("--key", default=env("WAMP_KEY"))
    p.add_argument("--tls-max", default=env("WAMP_TLS_MAX"))
    a = p.parse_args()
    a.params = json.loads(a.params)
    for k in ("url", "scenario"):
        if not getattr(a, k):
            fail(a, "missing --" + k)
    return a


def plain(v):
    """Turns decoded values into JSON-friendly ones; bytes become {"$hex": ...}."""
    if isinstance(v, (bytes, bytearray)):
        return {"$hex": bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    return v


def emit(obj):
    sys.stdout.write(json.dumps(plain(obj), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def fail(opts, msg):
    emit({"ok": False, "error": str(msg)})
    sys.stderr.write("peer.py %s/%s: %s\n" % (opts.serializer, opts.scenario, msg))
    sys.stdout.flush()
    os._exit(1)


def make_serializer(name):
    if name == "any":
        return None  # Autobahn|Python's default list: the router chooses
    if name == "json.batched":
        return wser.JsonSerializer(batched=True)  # wamp.2.json.batched
    cls = {
        "json": wser.JsonSerializer,
        "msgpack": getattr(wser, "MsgPackSerializer", None),
        "cbor": getattr(wser, "CBORSerializer", None),
    }.get(name)
    if cls is None:
        raise SystemExit("serializer %r not available (for cbor: apt-get install python3-cbor2)" % name)
    return cls()


def unpack_result(r):
    """Autobahn returns a bare value for one positional result, a CallResult otherwise."""
    if isinstance(r, CallResult):
        return {"args": list(r.results), "kwargs": dict(r.kwresults)}
    if r is None:
        return {"args": [], "kwargs": {}}
    return {"args": [r], "kwargs": {}}


async def s_join(s, o, details):
    return {
        "session": details.session,
        "roles": sorted(s._router_roles.keys()),
        # The features as Autobahn|Python parsed them (role.py RoleFeatures).
        "features": {role: sorted(k for k in dir(f) if not k.startswith("_") and getattr(f, k) is True)
                     for role, f in s._router_roles.items()},
        "authid": details.authid,
        "authrole": details.authrole,
        "authmethod": details.authmethod,
        "protocol": getattr(s._transport, "websocket_protocol_in_use", None),
        "tls_version": tls_version(s),
    }


def tls_version(s):
    """Returns the TLS version of the session's connection ("TLSv1.2"), or None."""
    t = getattr(s._transport, "transport", None)
    ssl_obj = t.get_extra_info("ssl_object") if t is not None else None
    return ssl_obj.version() if ssl_obj is not None else None


async def s_call(s, o, details):
    return unpack_result(await s.call(o.prefix + ".echo", *ARGS, **KWARGS))


async def s_large(s, o, details):
    # 1 MiB of text and of bytes: several WebSocket frames, a RawSocket
    # length with the high bits in use.
    text = "0123456789abcdef" * 65536
    data = b"\xa5" * (1 << 20)
    r = unpack_result(await s.call(o.prefix + ".echo", text, data))
    if r["args"] != [text, data]:
        raise Exception("1 MiB payload came back changed")
    return {"lens": [len(a) for a in r["args"]]}


async def s_binary(s, o, details):
    r = unpack_result(await s.call(o.prefix + ".echo", BINARY))
    if not isinstance(r["args"][0], bytes):
        raise Exception("echoed bytes came back as %r" % (r["args"][0],))
    return r


async def s_call_pattern(s, o, details):
    return unpack_result(await s.call(o.prefix + ".gpfx.x.y"))


async def s_error(s, o, details):
    try:
        r = await s.call(o.prefix + ".fail", "please fail")
    except ApplicationError as e:
        return {"error": e.error, "args": list(e.args), "kwargs": dict(e.kwargs or {})}
    raise Exception("call succeeded, want an error: %r" % (r,))


async def s_publish(s, o, details):
    pub = await s.publish(o.prefix + ".topic", *ARGS, options=PublishOptions(acknowledge=True), **KWARGS)
    return {"publication": pub.id}


async def s_subscribe(s, o, details):
    first = asyncio.get_running_loop().create_future()

    def on_event(*args, details=None, **kwargs):
        if not first.done():
            first.set_result({"args": list(args), "kwargs": kwargs, "publisher": details.publisher})

    await s.subscribe(on_event, o.prefix + ".topic", options=SubscribeOptions(details_arg="details"))
    emit({"ready": True, "session": details.session})
    return await first


# Advanced profile, where the router announces the feature. Autobahn|Python
# 22.7 has no disclose_me option for callers and publishers (the router's
# configuration decides), so "disclose" and "publish_self" are JS-only.

async def s_progress(s, o, details):
    progress = []

    def on_progress(*args, **kwargs):
        progress.append(list(args))

    r = unpack_result(await s.call(o.prefix + ".progress", "count", options=CallOptions(on_progress=on_progress)))
    return {"progress": progress, "args": r["args"]}


async def s_cancel(s, o, details):
    call = None

    def on_progress(*args, **kwargs):
        # Cancelling the future sends CANCEL (no mode: the dealer's
        # default, "killnowait"... or whatever it picks) for the call.
        call.cancel()

    call = asyncio.ensure_future(s.call(o.prefix + ".slow", options=CallOptions(on_progress=on_progress)))
    try:
        r = await call
    except asyncio.CancelledError:
        return {"error": "asyncio.CancelledError", "args": [], "kwargs": {}}
    except ApplicationError as e:
        return {"error": e.error, "args": list(e.args), "kwargs": dict(e.kwargs or {})}
    raise Exception("call succeeded, want it canceled: %r" % (r,))


async def s_timeout(s, o, details):
    # Dealer-initiated call timeout. CallOptions documents timeout in
    # seconds (a float), but Autobahn|Python 22.7 copies it unchanged into
    # CALL.Options.timeout, which its own message class asserts to be an int
    # and the spec defines in milliseconds: pass milliseconds.
    try:
        r = await s.call(o.prefix + ".slow", options=CallOptions(timeout=300))
    except ApplicationError as e:
        return {"error": e.error, "args": list(e.args), "kwargs": dict(e.kwargs or {})}
    raise Exception("call succeeded, want a timeout: %r" % (r,))


async def s_shared(s, o, details):
    me = details.session
    counts = {}
    stopped = asyncio.get_running_loop().create_future()

    def answer(policy):
        def fn(*args, **kwargs):
            counts[policy] = counts.get(policy, 0) + 1
            return me
        return fn

    for policy in ("roundrobin", "random", "first", "last"):
        await s.register(answer(policy), "%s.shared.%s" % (o.prefix, policy), options=RegisterOptions(invoke=policy))
    # The first registrant of PREFIX.shared.single holds it alone.
    single = "registered"
    try:
        await s.register(answer("single"), o.prefix + ".shared.single", options=RegisterOptions(invoke="single"))
    except ApplicationError as e:
        single = e.error

    # A later registrant must ask for the policy of the first one (see
    # js/peer.mjs).
    mixed = "registered"
    try:
        await s.register(answer("mixed"), o.prefix + ".shared.mixed",
                         options=RegisterOptions(invoke="first" if single == "registered" else "last"))
    except ApplicationError as e:
        mixed = e.error

    def stop(*args, **kwargs):
        asyncio.get_running_loop().call_soon(lambda: stopped.done() or stopped.set_result(None))

    await s.register(stop, "%s.stop.%d" % (o.prefix, me))
    emit({"ready": True, "session": me, "single": single, "mixed": mixed})
    await stopped
    return {"session": me, "counts": counts}


async def s_filtered(s, o, details):
    # Subscriber black- and whitelisting: only the third publication may
    # reach the Go subscriber.
    topic = o.prefix + ".topic"
    p = o.params
    await s.publish(topic, "excluded by session", options=PublishOptions(acknowledge=True, exclude=[p["session"]]))
    await s.publish(topic, "excluded by authid", options=PublishOptions(acknowledge=True, exclude_authid=[p["authid"]]))
    await s.publish(topic, "eligible", k="v",
                    options=PublishOptions(acknowledge=True, eligible=[p["session"]], eligible_authrole=["anonymous"]))
    return {}


async def s_retained(s, o, details):
    # Event retention: subscribe with get_retained to the event the Go
    # client retained, then retain one for the Go client.
    got = asyncio.get_running_loop().create_future()

    def on_event(*args, details=None, **kwargs):
        if not got.done():
            got.set_result({"args": list(args), "kwargs": kwargs, "retained": details.retained})

    await s.subscribe(on_event, o.prefix + ".retained.go",
                      options=SubscribeOptions(details_arg="details", get_retained=True))
    first = await got
    pub = await s.publish(o.prefix + ".retained.peer", "from peer", k="v",
                          options=PublishOptions(acknowledge=True, retain=True))
    return {"first": first, "publication": pub.id}


async def s_publish_self(s, o, details):
    # Publisher exclusion (exclude_me=False); Autobahn|Python 22.7 has no
    # disclose_me for publishers, so the publisher is not identified.
    own = asyncio.get_running_loop().create_future()

    def on_event(*args, details=None, **kwargs):
        if not own.done():
            own.set_result({"args": list(args), "kwargs": kwargs, "publisher": details.publisher})

    await s.subscribe(on_event, o.prefix + ".topic", options=SubscribeOptions(details_arg="details"))
    pub = await s.publish(o.prefix + ".topic", "self", k="v", options=PublishOptions(acknowledge=True, exclude_me=False))
    return {"session": details.session, "publication": pub.id, "own": await own}


async def s_meta(s, o, details):
    me = details.session
    joined, left = {}, {}
    changed = asyncio.Event()

    # Meta events go to every session of the realm: keep them all.
    def on_join(d):
        joined[d["session"]] = d
        changed.set()

    def on_leave(session, *rest):
        left[session] = [session, *rest]
        changed.set()

    async def until(pred):
        while not pred():
            changed.clear()
            await changed.wait()

    await s.subscribe(on_join, "wamp.session.on_join")
    await s.subscribe(on_leave, "wamp.session.on_leave")
    count = await s.call("wamp.session.count")
    count_anon = await s.call("wamp.session.count", ["anonymous"])
    count_nobody = await s.call("wamp.session.count", ["wampkit-nobody"])
    sessions = await s.call("wamp.session.list")
    own = await s.call("wamp.session.get", me)
    stopped = asyncio.get_running_loop().create_future()

    async def meta_get(session):
        get = await s.call("wamp.session.get", session)
        await until(lambda: session in joined)
        return CallResult(get, joined[session])

    async def meta_left(session):
        await until(lambda: session in left)
        after = "no error"
        try:
            await s.call("wamp.session.get", session)
        except ApplicationError as e:
            after = e.error
        return CallResult(left[session], after)

    def stop(*args, **kwargs):
        asyncio.get_running_loop().call_soon(lambda: stopped.done() or stopped.set_result(None))

    await s.register(meta_get, o.prefix + ".meta_get")
    await s.register(meta_left, o.prefix + ".meta_left")
    await s.register(stop, o.prefix + ".stop")
    emit({"ready": True, "session": me, "count": count, "count_anonymous": count_anon,
          "count_nobody": count_nobody, "list": sessions, "self": own})
    await stopped
    return {"session": me}


async def s_index_meta(s, o, details):
    """Registration and subscription meta API: waits for the on_create
    events of PREFIX.proc (a registration) and PREFIX.topic (a
    subscription) that the Go side makes, then asks about them."""
    created = {}
    changed = asyncio.Event()

    def on_create(kind):
        def handler(session, d):
            created[(kind, d["uri"])] = {"session": session, "details": d}
            changed.set()
        return handler

    await s.subscribe(on_create("registration"), "wamp.registration.on_create")
    await s.subscribe(on_create("subscription"), "wamp.subscription.on_create")
    emit({"ready": True, "session": details.session})
    want = [("registration", o.prefix + ".proc"), ("subscription", o.prefix + ".topic")]
    while not all(k in created for k in want):
        changed.clear()
        await changed.wait()
    reg = created[want[0]]["details"]["id"]
    sub = created[want[1]]["details"]["id"]

    async def error_of(proc, *args):
        try:
            await s.call(proc, *args)
        except ApplicationError as e:
            return e.error
        return "no error"

    return {
        "reg_on_create": created[want[0]],
        "sub_on_create": created[want[1]],
        "reg_list": await s.call("wamp.registration.list"),
        "reg_lookup": await s.call("wamp.registration.lookup", o.prefix + ".proc"),
        "reg_lookup_prefix": await s.call("wamp.registration.lookup", o.prefix + ".proc", {"match": "prefix"}),
        "reg_match": await s.call("wamp.registration.match", o.prefix + ".proc"),
        "reg_get": await s.call("wamp.registration.get", reg),
        "reg_list_callees": await s.call("wamp.registration.list_callees", reg),
        "reg_count_callees": await s.call("wamp.registration.count_callees", reg),
        "reg_get_unknown": await error_of("wamp.registration.get", o.params["unknown"]),
        "sub_lookup": await s.call("wamp.subscription.lookup", o.prefix + ".topic"),
        "sub_match": await s.call("wamp.subscription.match", o.prefix + ".topic"),
        "sub_get": await s.call("wamp.subscription.get", sub),
        "sub_list_subscribers": await s.call("wamp.subscription.list_subscribers", sub),
        "sub_count_subscribers": await s.call("wamp.subscription.count_subscribers", sub),
        "sub_get_unknown": await error_of("wamp.subscription.get", o.params["unknown"]),
    }


async def s_kill(s, o, details):
    p = o.params
    reason, message = "wampkit.interop.kicked", "killed by autobahn-python"

    async def err_of(proc, *args, **kwargs):
        try:
            r = await s.call(proc, *args, **kwargs)
        except ApplicationError as e:
            return e.error
        return "no error: %r" % (r,)

    def as_list(r):
        return [] if r is None else [r]

    return {
        "kill": as_list(await s.call("wamp.session.kill", p["session"], reason=reason, message=message)),
        "kill_by_authid": as_list(await s.call("wamp.session.kill_by_authid", p["authid"], reason=reason, message=message)),
        "kill_by_authrole": as_list(await s.call("wamp.session.kill_by_authrole", "wampkit-nobody")),
        "kill_self": await err_of("wamp.session.kill", details.session),
        "kill_bad_reason": await err_of("wamp.session.kill", p["session"], reason="not a URI"),
        "get_unknown": await err_of("wamp.session.get", p["unknown"]),
    }


async def s_kill_all(s, o, details):
    # Every other session of the realm; the router gives the count.
    n = await s.call("wamp.session.kill_all", reason="wampkit.interop.kicked", message="killed by autobahn-python")
    return {"args": [n]}


async def s_pattern(s, o, details):
    events = []
    both = asyncio.get_running_loop().create_future()

    def on(via):
        def handler(*args, details=None, **kwargs):
            events.append({"via": via, "topic": details.topic, "args": list(args)})
            if len(events) == 2 and not both.done():
                both.set_result(None)
        return handler

    await s.subscribe(on("prefix"), o.prefix + ".pfx", options=SubscribeOptions(match="prefix", details_arg="details"))
    await s.subscribe(on("wildcard"), o.prefix + ".wc..leaf", options=SubscribeOptions(match="wildcard", details_arg="details"))
    emit({"ready": True, "session": details.session})
    await both
    events.sort(key=lambda e: e["via"])
    return {"events": events}


async def s_callee(s, o, details):
    invocations = []
    stopped = asyncio.get_running_loop().create_future()

    def echo(*args, **kwargs):
        invocations.append("echo")
        return CallResult(*args, **kwargs)

    def fail_(*args, **kwargs):
        invocations.append("fail")
        raise ApplicationError(ERROR_URI, *ERROR_ARGS, **ERROR_KWARGS)

    def whoami(*args, details=None, **kwargs):
        invocations.append("whoami")
        return details.caller

    async def progress(*args, details=None, **kwargs):
        invocations.append("progress")
        if details.progress is None:
            raise ApplicationError("wampkit.interop.error.no_progress", "caller did not ask for progress")
        for i in (1, 2, 3):
            details.progress(i)
        return "done"

    async def slow(*args, details=None, **kwargs):
        invocations.append("slow")
        if details.progress:
            details.progress("started")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            # Autobahn|Python cancels the handler on INTERRUPT. Letting the
            # CancelledError through would send nothing: with Python 3.8+
            # it is a BaseException, which Autobahn|Python 22.7's error path
            # (txaio) does not catch ("Exception in callback ... done"), so
            # a dealer waiting for the callee's answer (CANCEL mode "kill")
            # would wait until the session ends. Answer the INTERRUPT with
            # the error the spec names (advanced "Call Canceling").
            invocations.append("interrupted")
            raise ApplicationError("wamp.error.canceled", "interrupted")
        return "not interrupted"

    # PREFIX.hang answers only when PREFIX.release is called (like the
    # JS callee); a Go call with a dealer timeout ends first.
    released = asyncio.get_running_loop().create_future()

    async def hang(*args, **kwargs):
        invocations.append("hang")
        await released
        return "late"

    def release(*args, **kwargs):
        invocations.append("release")
        released.done() or released.set_result(None)

    await s.register(hang, o.prefix + ".hang")
    await s.register(release, o.prefix + ".release")

    def stop(*args, **kwargs):
        invocations.append("stop")
        # Answer first, then leave.
        asyncio.get_running_loop().call_soon(lambda: stopped.done() or stopped.set_result(None))

    await s.register(echo, o.prefix + ".echo")
    await s.register(fail_, o.prefix + ".fail")
    await s.register(whoami, o.prefix + ".whoami", options=RegisterOptions(details_arg="details"))
    await s.register(progress, o.prefix + ".progress", options=RegisterOptions(details_arg="details"))
    await s.register(slow, o.prefix + ".slow", options=RegisterOptions(details_arg="details"))
    def pfx(*args, details=None, **kwargs):
        invocations.append("pfx")
        return CallResult("prefix", details.procedure)

    def wc(*args, details=None, **kwargs):
        invocations.append("wc")
        return CallResult("wildcard", details.procedure)

    await s.register(pfx, o.prefix + ".pfx", options=RegisterOptions(match="prefix", details_arg="details"))
    await s.register(wc, o.prefix + ".wc..leaf", options=RegisterOptions(match="wildcard", details_arg="details"))
    await s.register(stop, o.prefix + ".stop")
    emit({"ready": True})
    await stopped
    return {"invocations": invocations}


SCENARIOS = {
    "join": s_join,
    "call": s_call,
    "binary": s_binary,
    "large": s_large,
    "call_pattern": s_call_pattern,
    "error": s_error,
    "publish": s_publish,
    "subscribe": s_subscribe,
    "callee": s_callee,
    "progress": s_progress,
    "cancel": s_cancel,
    "pattern": s_pattern,
    "timeout": s_timeout,
    "shared": s_shared,
    "filtered": s_filtered,
    "publish_self": s_publish_self,
    "retained": s_retained,
    "meta": s_meta,
    "index_meta": s_index_meta,
    "kill": s_kill,
    "kill_all": s_kill_all,
}


class RawSocketClientProtocol(WampRawSocketClientProtocol):
    """Works around a bug of Autobahn|Python 22.7 (Debian 12's python3-autobahn).

    Its asyncio RawSocket protocol keeps the transport details only as
    _transport_details, while ApplicationSession.onWelcome reads
    self._transport.transport_details, so every RawSocket session fails
    right after WELCOME with AttributeError. The WebSocket protocol has the
    property; give the RawSocket one the same.
    """

    @property
    def transport_details(self):
        return self._transport_details


class Peer(ApplicationSession):
    """Runs one scenario once joined and reports through self.done."""

    def __init__(self, config, opts, done, disconnected):
        super().__init__(config)
        self.opts = opts
        self.done = done
        self.disconnected = disconnected

    def onConnect(self):
        if not self.opts.authmethod:
            return super().onConnect()
        authextra = None
        self.authenticator = None
        if self.opts.authmethod == "cryptosign" and self.opts.channel_binding:
            # Autobahn|Python's own authenticator: it puts channel_binding
            # into HELLO.Details.authextra and signs the challenge XOR'ed
            # with the channel ID its transport computed after the TLS
            # handshake (autobahn/wamp/auth.py AuthCryptoSign.on_challenge,
            # autobahn/asyncio/util.py transport_channel_id).
            self.authenticator = auth.AuthCryptoSign(
                privkey=self.opts.secret, authextra={"channel_binding": self.opts.channel_binding})
            authextra = self.authenticator.authextra
        elif self.opts.authmethod == "cryptosign":
            # Needs PyNaCl (Debian python3-nacl); --secret is the hex seed.
            from autobahn.wamp.cryptosign import CryptosignKey
            self.key = CryptosignKey.from_bytes(bytes.fromhex(self.opts.secret))
            authextra = {"pubkey": self.opts.pubkey or self.key.public_key()}
        # "tls" needs nothing in HELLO but the method: the router welcomes
        # (or refuses) at once, on the client certificate of the TLS
        # handshake. Autobahn|Python has no authenticator named "tls".
        self.join(self.config.realm, authmethods=[self.opts.authmethod], authid=self.opts.authid, authextra=authextra)

    def onChallenge(self, challenge):
        if challenge.method == "ticket":
            return self.opts.secret
        if challenge.method == "wampcra":
            key = self.opts.secret
            if "salt" in challenge.extra:
                # Salted WAMP-CRA: the HMAC key is the derived key's base64 text.
                key = auth.derive_key(key, challenge.extra["salt"], challenge.extra.get("iterations", 1000),
                                      challenge.extra.get("keylen", 32))
            sig = auth.compute_wcs(key, challenge.extra["challenge"])
            return sig.decode("ascii") if isinstance(sig, bytes) else sig
        if challenge.method == "cryptosign" and self.authenticator is not None:
            return self.authenticator.on_challenge(self, challenge)
        if challenge.method == "cryptosign":
            return self.key.sign_challenge(challenge)
        raise Exception("unexpected challenge %s" % challenge.method)

    async def onJoin(self, details):
        try:
            result = await SCENARIOS[self.opts.scenario](self, self.opts, details)
        except Exception as e:  # report, do not hang
            if not self.done.done():
                self.done.set_exception(e)
            self.leave()
            return
        if not self.done.done():
            self.done.set_result(result)
        self.leave()

    def onLeave(self, details):
        if not self.done.done():
            self.done.set_exception(Exception("left before the scenario ended: %s %s" % (details.reason, details.message)))
        super().onLeave(details)

    def onDisconnect(self):
        if not self.done.done():
            self.done.set_exception(Exception("transport closed before the scenario ended"))
        if not self.disconnected.done():
            self.disconnected.set_result(None)


def tls_context(opts):
    """Returns the client SSLContext of --ca, --cert/--key and --tls-max."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=opts.ca)
    if opts.cert:
        ctx.load_cert_chain(opts.cert, opts.key)
    if opts.tls_max:
        ctx.maximum_version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[opts.tls_max]
    return ctx


async def run(opts):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    disconnected = loop.create_future()
    ser = make_serializer(opts.serializer)
    u = urllib.parse.urlsplit(opts.url)
    cfg = ComponentConfig(realm=opts.realm)

    def make():
        return Peer(cfg, opts, done, disconnected)

    if u.scheme in ("rs", "tcp", "rss", "tcps"):
        factory = WampRawSocketClientFactory(make, serializer=ser)
        if not hasattr(WampRawSocketClientProtocol, "transport_details"):
            factory.protocol = RawSocketClientProtocol
    elif u.scheme in ("ws", "wss"):
        factory = WampWebSocketClientFactory(make, url=opts.url, serializers=[ser] if ser else None)
    else:
        raise Exception("unsupported URL %s" % opts.url)
    tls = None
    if u.scheme in ("wss", "rss", "tcps"):
        tls = tls_context(opts)
    elif opts.ca or opts.cert:
        raise Exception("--ca and --cert need a TLS URL (wss://, rss://, tcps://), not %s" % opts.url)
    # Autobahn|Python's asyncio factories are plain asyncio protocol
    # factories: TLS is the event loop's (ssl=), for RawSocket as for
    # WebSocket.
    transport, _ = await loop.create_connection(factory, u.hostname, u.port, ssl=tls)
    try:
        result = await done
        # Let the GOODBYE exchange finish; Autobahn then closes the transport.
        await asyncio.wait_for(disconnected, 5)
    finally:
        transport.close()
    return result


def main():
    opts = parse_args()
    if os.environ.get("WAMP_DEBUG"):
        import txaio

        txaio.start_logging(out=sys.stderr, level="trace")
    if opts.scenario not in SCENARIOS:
        fail(opts, "unknown scenario %s" % opts.scenario)
    try:
        result = asyncio.run(asyncio.wait_for(run(opts), opts.timeout))
    except asyncio.TimeoutError:
        fail(opts, "timed out after %s s" % opts.timeout)
    except BaseException as e:  # noqa: B902 -- report everything, including SystemExit
        fail(opts, "%s: %s" % (type(e).__name__, e))
    out = {"ok": True, "lib": "autobahn-python", "serializer": opts.serializer, "scenario": opts.scenario}
    out.update(result)
    emit(out)


if __name__ == "__main__":
    main()
