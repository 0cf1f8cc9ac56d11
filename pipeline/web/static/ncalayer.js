// NCALayer as it really speaks (research/ncalayer-protocol.md §5): a WebSocket on wss://127.0.0.1:13579 that greets
// with {"result":{"version":"1.4"}}, lets "--heartbeat--" frames come and go, and answers one request at a time, in
// order.  This file only talks to NCALayer; what an answer means (signed, cancelled, failed) is the server's to say
// (/external/finish reads the answer as it came).
"use strict";

window.QamqorNCALayer = (function () {
  const HEARTBEAT = "--heartbeat--";

  // Resolves with a connection once NCALayer has greeted; rejects when nothing (or something else) answers.
  function connect(url, timeoutMs) {
    return new Promise((resolve, reject) => {
      let ws;
      try { ws = new WebSocket(url); } catch (e) { reject(e); return; }
      const conn = { ws: ws, waiting: [], version: null };
      let greeted = false;
      const timer = setTimeout(() => { if (!greeted) { ws.close(); reject(new Error("no greeting")); } }, timeoutMs || 15000);
      ws.onmessage = (event) => {
        if (event.data === HEARTBEAT) return;  // keep-alive, in either direction: never an answer
        let message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        if (!greeted) {
          greeted = true;
          clearTimeout(timer);
          if (message && message.result && message.result.version) {
            conn.version = String(message.result.version);
            resolve(conn);
          } else {
            ws.close();
            reject(new Error("not NCALayer"));
          }
          return;
        }
        const next = conn.waiting.shift();
        if (next) next(message);
      };
      ws.onerror = () => { if (!greeted) { clearTimeout(timer); reject(new Error("NCALayer")); } };
      ws.onclose = () => {
        if (!greeted) { clearTimeout(timer); reject(new Error("closed")); }
        while (conn.waiting.length) conn.waiting.shift()({ status: false, code: "CONNECTION_CLOSED" });
      };
    });
  }

  // kz.gov.pki.knca.basics "sign": a detached CMS (CAdES-BES) over the decoded bytes; no TSP (the server adds the
  // PAdES timestamp).  Resolves with NCALayer's answer exactly as it came.
  function sign(conn, data, options) {
    const opts = options || {};
    return new Promise((resolve) => {
      if (conn.ws.readyState !== WebSocket.OPEN) { resolve({ status: false, code: "CONNECTION_CLOSED" }); return; }
      conn.waiting.push(resolve);
      conn.ws.send(JSON.stringify({
        module: "kz.gov.pki.knca.basics", method: "sign",
        args: {
          allowedStorages: null, format: "cms", data: data,
          signingParams: { decode: true, encapsulate: false, digested: false, tsaProfile: null },
          signerParams: { extKeyUsageOids: ["1.3.6.1.5.5.7.3.4"], iin: opts.iin || "", bin: "", serialNumber: "", chain: null },
          locale: opts.locale === "kk" ? "kk" : "ru",
        },
      }));
    });
  }

  function close(conn) {
    try { conn.ws.close(); } catch (e) { /* already closed */ }
  }

  return { connect: connect, sign: sign, close: close, HEARTBEAT: HEARTBEAT };
})();
