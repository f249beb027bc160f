// The chat page: Autobahn|JS joins realm1 on this page's own host, calls
// the Go backend's com.example.chat.send and shows every
// com.example.chat.message event.
"use strict";

const $ = (id) => document.getElementById(id);

function setStatus(text, cls) {
  $("status").textContent = text;
  $("status").className = cls || "";
}

function show(n, from, text) {
  const li = document.createElement("li");
  li.dataset.n = n;
  const num = document.createElement("span");
  num.className = "n";
  num.textContent = "#" + n;
  const who = document.createElement("span");
  who.className = "from";
  who.textContent = from;
  const what = document.createElement("span");
  what.className = "text";
  what.textContent = text; // never innerHTML: messages come from anyone
  li.append(num, who, what);
  $("messages").prepend(li);
}

if (typeof autobahn === "undefined") {
  setStatus("autobahn.min.js is missing: run scripts/setup-test-deps.sh, then restart", "down");
} else {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const connection = new autobahn.Connection({
    url: scheme + location.host + "/ws",
    realm: "realm1",
    // The bundle carries the JSON serializer only.
    serializers: [new autobahn.serializer.JSONSerializer()],
    max_retries: -1,
  });
  let session = null;

  connection.onopen = (s) => {
    session = s;
    setStatus("connected, session " + s.id, "up");
    $("send").disabled = false;
    s.subscribe("com.example.chat.message", (args) => show(args[0], args[1], args[2])).catch((e) => {
      $("error").textContent = "subscribe failed: " + (e.error || e);
    });
  };
  connection.onclose = (reason) => {
    session = null;
    $("send").disabled = true;
    setStatus("disconnected (" + reason + "), retrying…", "down");
  };

  $("form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!session) return;
    const text = $("text").value;
    $("error").textContent = "";
    session.call("com.example.chat.send", [$("name").value, text]).then(
      () => { $("text").value = ""; },
      (e) => { $("error").textContent = (e.args && e.args[0]) || e.error || String(e); },
    );
  });

  connection.open();
}
