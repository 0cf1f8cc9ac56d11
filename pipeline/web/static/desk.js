// The web desk's little JavaScript: select a batch, and sign it with NCALayer (kz.gov.pki.knca.basics "sign",
// a detached CMS over the bytes the server prepared).  Everything else is plain HTML forms.
"use strict";

(function () {
  const form = document.getElementById("batch");
  if (!form) return;
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      form.querySelectorAll('input[name="doc"]:not(:disabled)').forEach((box) => { box.checked = all.checked; });
    });
  }
  const button = document.getElementById("ncalayer-sign");
  if (!button) return;

  const progress = document.getElementById("progress");
  const list = document.getElementById("progress-list");
  const say = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => String(values[k]));

  function note(text, failed) {
    const li = document.createElement("li");
    li.textContent = text;  // text, never HTML
    if (failed) li.className = "fail";
    list.appendChild(li);
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": form.dataset.csrf },
      body: JSON.stringify(body),
    });
    return response.json();
  }

  // One WebSocket to NCALayer for the batch; it greets with {"result": {"version": …}} and answers each
  // request in turn; "--heartbeat--" frames are ignored.
  function connect(url) {
    return new Promise((resolve, reject) => {
      let ws;
      try { ws = new WebSocket(url); } catch (e) { reject(e); return; }
      const waiting = [];
      let greeted = false;
      ws.onmessage = (event) => {
        let message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        if (!greeted) {
          greeted = true;
          if (message.result && message.result.version) resolve({ ws, waiting }); else reject(new Error("NCALayer?"));
          return;
        }
        const next = waiting.shift();
        if (next) next(message);
      };
      ws.onerror = () => reject(new Error("NCALayer"));
      ws.onclose = () => { while (waiting.length) waiting.shift()({ status: false, message: "closed" }); };
    });
  }

  function sign(conn, data) {
    return new Promise((resolve) => {
      conn.waiting.push(resolve);
      conn.ws.send(JSON.stringify({
        module: "kz.gov.pki.knca.basics", method: "sign",
        args: {
          allowedStorages: null, format: "cms", data: data,
          signingParams: { decode: true, encapsulate: false, digested: false, tsaProfile: null },
          signerParams: { extKeyUsageOids: ["1.3.6.1.5.5.7.3.4"], iin: form.dataset.iin || "", bin: "", serialNumber: "", chain: null },
          locale: form.dataset.locale === "kk" ? "kk" : "ru",
        },
      }));
    });
  }

  button.addEventListener("click", async () => {
    const chosen = Array.from(form.querySelectorAll('input[name="doc"]:checked')).map((box) => {
      const [id, sha] = box.value.split(":");
      return { id, sha };
    });
    list.textContent = "";
    if (!chosen.length) { progress.textContent = form.dataset.msgNone; return; }
    button.disabled = true;
    let conn;
    try { conn = await connect(form.dataset.ncalayer); } catch (e) {
      progress.textContent = form.dataset.msgNoncalayer; button.disabled = false; return;
    }
    const signed = [];
    let done = 0;
    for (const doc of chosen) {
      progress.textContent = say(form.dataset.msgProgress, { done, total: chosen.length });
      const prepared = await post("/external/prepare", { document_id: doc.id, sha256: doc.sha });
      if (!prepared.ok) { note(doc.id + ": " + prepared.error, true); done += 1; continue; }
      const answer = await sign(conn, prepared.data);
      let cms = "";
      if (answer.status === true && answer.body && answer.body.result) {
        cms = Array.isArray(answer.body.result) ? answer.body.result[0] : answer.body.result;
      }
      const result = await post("/external/finish", { token: prepared.token, cms: cms || "", reason: answer.message || answer.code || "" });
      if (result.ok) { signed.push(doc.id); note(doc.id + ": " + result.status); } else { note(doc.id + ": " + result.error, true); }
      done += 1;
    }
    conn.ws.close();
    progress.textContent = say(form.dataset.msgProgress, { done, total: chosen.length }) + " — " + form.dataset.msgDone;
    const results = "/results?" + signed.map((id) => "id=" + encodeURIComponent(id)).join("&");
    if (signed.length && signed.length === chosen.length) {
      window.location.assign(results);
      return;
    }
    if (signed.length) {
      const link = document.createElement("a");
      link.href = results;
      link.id = "results-link";
      link.textContent = form.dataset.msgDone;
      progress.appendChild(document.createTextNode(" "));
      progress.appendChild(link);
    }
    button.disabled = false;
  });
})();
