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

  function note(text, kind) {
    const li = document.createElement("li");
    li.textContent = text;  // text, never HTML
    if (kind) li.className = kind;  // "fail" or "cancelled"
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

  button.addEventListener("click", async () => {
    const chosen = Array.from(form.querySelectorAll('input[name="doc"]:checked')).map((box) => {
      const [id, sha] = box.value.split(":");
      return { id, sha };
    });
    list.textContent = "";
    if (!chosen.length) { progress.textContent = form.dataset.msgNone; return; }
    button.disabled = true;
    const NCA = window.QamqorNCALayer;  // static/ncalayer.js: the protocol; the server reads each answer
    let conn;
    try { conn = await NCA.connect(form.dataset.ncalayer); } catch (e) {
      progress.textContent = form.dataset.msgNoncalayer; button.disabled = false; return;
    }
    const signed = [], failedIds = [];
    const bar = document.getElementById("batch-progress");  // the confirmation page's bar, as for a key file
    if (bar) { bar.max = chosen.length; bar.value = 0; }
    let done = 0;
    const failed = (result) => (result.error || "") + (result.code_text ? " (" + result.code_text + ")" : "");
    for (const doc of chosen) {
      progress.textContent = say(form.dataset.msgProgress, { done, total: chosen.length });
      const prepared = await post("/external/prepare", { document_id: doc.id, sha256: doc.sha });
      const label = prepared.title || doc.id;
      if (!prepared.ok) { note(label + ": " + failed(prepared), "fail"); failedIds.push(doc.id); done += 1; if (bar) bar.value = done; continue; }
      const answer = await NCA.sign(conn, prepared.data, { iin: form.dataset.iin, locale: form.dataset.locale });
      const result = await post("/external/finish", { token: prepared.token, answer: answer });
      done += 1;
      if (bar) bar.value = done;
      if (result.ok) { signed.push(doc.id); note(label + ": " + (result.message || result.status)); continue; }
      if (result.cancelled) { note(label + ": " + result.error, "cancelled"); break; }  // the officer stopped
      note(label + ": " + failed(result), "fail");
      failedIds.push(doc.id);
    }
    NCA.close(conn);
    progress.textContent = say(form.dataset.msgProgress, { done, total: chosen.length }) + " — " + form.dataset.msgDone;
    const results = "/results?" + signed.map((id) => "id=" + encodeURIComponent(id))
      .concat(failedIds.map((id) => "failed=" + encodeURIComponent(id))).join("&");  // N signed, M not, as for a key file
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
