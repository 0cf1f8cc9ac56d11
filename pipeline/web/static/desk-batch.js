// The queue, the confirmation and the return dialog (issue 15 #4, #5): select what was read, confirm it, sign a
// key-file or token batch one document per request so that each shows its progress, and end on the results page.
// Without this script every form still works (the batch then signs in one request and ends on the same page).
"use strict";

(function () {
  // --- the queue: "select all read" and nothing submitted empty
  const select = document.getElementById("select");
  if (select) {
    const all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", () => {
        select.querySelectorAll('input[name="doc"]:not(:disabled)').forEach((box) => { box.checked = all.checked; });
      });
    }
    select.addEventListener("submit", (event) => {
      if (!select.querySelector('input[name="doc"]:checked')) {
        event.preventDefault();
        let note = document.getElementById("select-note");
        if (!note) {
          note = document.createElement("p");
          note.id = "select-note";
          note.className = "flash error";
          note.setAttribute("role", "alert");
          select.querySelector(".sign-bar").prepend(note);
        }
        note.textContent = select.dataset.msgNone;
      }
    });
  }

  // --- the return dialog: a modal asking the reason, visibly apart from approving
  document.querySelectorAll("button[data-dialog]").forEach((button) => {
    const dialog = document.getElementById(button.dataset.dialog);
    if (!dialog || typeof dialog.showModal !== "function") return;
    if (dialog.hasAttribute("open")) { dialog.removeAttribute("open"); dialog.showModal(); }
    button.addEventListener("click", () => { dialog.showModal(); const area = dialog.querySelector("textarea"); if (area) area.focus(); });
  });
  document.querySelectorAll("[data-close]").forEach((button) => {
    button.addEventListener("click", () => { const d = document.getElementById(button.dataset.close); if (d) d.close(); });
  });

  // --- the confirmation: a key-file or token batch, one document per request, with its progress
  const form = document.getElementById("batch");
  if (!form || form.dataset.backend === "external") return;
  const bar = document.getElementById("batch-progress");
  const box = document.getElementById("progress-box");
  const progress = document.getElementById("progress");
  const say = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
  const stateOf = (id) => {
    const item = document.querySelector('li[data-document="' + CSS.escape(id) + '"] [data-state]');
    return item || { set textContent(_) {} };
  };

  form.addEventListener("submit", async (event) => {
    if (!window.fetch || !window.FormData) return;  // the plain form signs the batch in one request
    event.preventDefault();
    const button = document.getElementById("sign");
    const docs = Array.from(form.querySelectorAll('input[name="doc"]:checked')).map((b) => b.value);
    const secret = form.querySelector('input[name="secret"]');
    if (!docs.length) { progress.textContent = form.dataset.msgNone; return; }
    button.disabled = true;
    box.hidden = false;
    bar.max = docs.length;
    bar.value = 0;
    const signed = [], failed = [];
    for (const value of docs) {
      const id = value.split(":")[0];
      progress.textContent = say(form.dataset.msgProgress, { done: signed.length + failed.length, total: docs.length });
      stateOf(id).textContent = form.dataset.msgSigning;
      const body = new FormData();
      body.append("csrf", form.querySelector('input[name="csrf"]').value);
      body.append("back", form.querySelector('input[name="back"]').value);
      body.append("doc", value);
      body.append("secret", secret ? secret.value : "");
      let answer;
      try {
        const response = await fetch(form.action, { method: "POST", body, credentials: "same-origin", headers: { "Accept": "application/json" } });
        if (response.status === 401 || response.status === 403) {
          // the session ran out, or the form is stale: the plain form keeps what can be kept and says why
          if (secret) secret.value = "";
          HTMLFormElement.prototype.submit.call(form);
          return;
        }
        answer = await response.json();
      } catch (e) {
        answer = { ok: false, error: { text: form.dataset.msgFailed, code: "E-NETWORK" } };
      }
      if (answer.stop) {  // a wrong password or PIN: nothing signed; back to the confirmation, the selection kept
        if (secret) secret.value = "";
        window.location.assign("/queue/confirm?" + docs.map((v) => "doc=" + encodeURIComponent(v)).join("&"));
        return;
      }
      if (answer.ok) { signed.push(id); stateOf(id).textContent = form.dataset.msgSigned; }
      else { failed.push(id); stateOf(id).textContent = form.dataset.msgFailed + ": " + ((answer.error && answer.error.text) || ""); }
      bar.value = signed.length + failed.length;
    }
    if (secret) secret.value = "";
    progress.textContent = say(form.dataset.msgProgress, { done: docs.length, total: docs.length }) + " — " + form.dataset.msgDone;
    const query = signed.map((id) => "id=" + encodeURIComponent(id)).concat(failed.map((id) => "failed=" + encodeURIComponent(id)));
    window.location.assign("/results?" + query.join("&"));
  });
})();
