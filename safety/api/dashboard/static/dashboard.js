// SealFrame dashboard: keyboard shortcuts for the review queue and an upload size check.
// Pages work without this file; it only adds shortcuts and earlier messages.
"use strict";

function setupQueue() {
  const items = Array.from(document.querySelectorAll("li.item"));
  if (!items.length) return;
  let current = -1;
  const pending = new WeakMap(); // form -> "approve" | "reject", chosen before the reason was written

  function select(i, scroll = true) {
    if (i < 0 || i >= items.length) return;
    if (current >= 0) items[current].classList.remove("selected");
    current = i;
    items[i].classList.add("selected");
    if (!scroll) return;
    items[i].focus({ preventScroll: true });
    items[i].scrollIntoView({ block: "nearest" });
  }

  function decide(item, decision) {
    const form = item.querySelector("form.decide");
    if (!form) return;
    const reason = form.querySelector("textarea[name=reason]");
    const hint = form.querySelector(".hint");
    if (!reason.value.trim()) {
      pending.set(form, decision);
      hint.textContent = "Write a reason, then press Ctrl+Enter to " + decision + ".";
      reason.focus();
      return;
    }
    const button = form.querySelector("button[value=" + decision + "]");
    form.requestSubmit(button);
  }

  items.forEach(function (item, i) {
    item.addEventListener("focusin", function () {
      if (current !== i) { if (current >= 0) items[current].classList.remove("selected"); current = i; item.classList.add("selected"); }
    });
    const form = item.querySelector("form.decide");
    if (!form) return;
    const reason = form.querySelector("textarea[name=reason]");
    reason.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { reason.blur(); item.focus({ preventScroll: true }); ev.preventDefault(); }
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        const choice = pending.get(form);
        if (choice) decide(item, choice);
        else form.querySelector(".hint").textContent = "Press Esc, then a to approve or r to reject.";
      }
    });
  });

  const help = document.getElementById("help");
  document.addEventListener("keydown", function (ev) {
    const t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT")) return;
    if (help && help.open) return;
    const item = items[current >= 0 ? current : 0];
    switch (ev.key) {
      case "j": case "ArrowDown": select(current + 1); break;
      case "k": case "ArrowUp": select(Math.max(0, current - 1)); break;
      case "a": if (current < 0) select(0); decide(item, "approve"); break;
      case "r": if (current < 0) select(0); decide(item, "reject"); break;
      case "/": {
        if (current < 0) select(0);
        const reason = items[Math.max(current, 0)].querySelector("textarea[name=reason]");
        if (reason) reason.focus();
        break;
      }
      case "?": if (help) help.showModal(); break;
      default: return;
    }
    ev.preventDefault();
  });
  if (items.length) select(0, false);  // marked, not focused: the page opens at its top
}

function setupUpload() {
  const form = document.getElementById("upload");
  if (!form) return;
  const max = Number(form.dataset.maxBytes);
  const input = form.querySelector("input[type=file]");
  const error = document.getElementById("upload-error");
  function check() {
    const file = input.files && input.files[0];
    if (file && max && file.size > max) {
      error.textContent = "This file is " + (file.size / 1048576).toFixed(1) + " MiB; the limit is " +
        (max / 1048576).toFixed(1) + " MiB. Choose a smaller file.";
      error.hidden = false;
      return false;
    }
    error.hidden = true;
    return true;
  }
  input.addEventListener("change", check);
  form.addEventListener("submit", function (ev) {
    if (!check()) { ev.preventDefault(); return; }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = "Verifying…";
  });
}

document.addEventListener("DOMContentLoaded", function () {
  setupQueue();
  setupUpload();
});
