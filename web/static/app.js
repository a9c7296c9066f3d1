// The store works without this script; it only helps.
"use strict";

// A form's buttons are disabled once it is submitted, so a second press
// cannot post it again (money actions also carry an idempotency key). They
// are disabled after the submission has read the form, so the pressed
// button's own name and value still go with it.
document.addEventListener("submit", (event) => {
  if (event.defaultPrevented) return;
  const buttons = event.target.querySelectorAll("button[type=submit], button:not([type])");
  setTimeout(() => buttons.forEach((b) => { b.disabled = true; b.classList.add("busy"); }), 0);
});

// Coming back to a page with the back button shows it as it was left:
// enable its buttons again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  document.querySelectorAll("button.busy").forEach((b) => { b.disabled = false; b.classList.remove("busy"); });
});

// Times say "3 minutes ago"; their tooltip gives the exact time, in the
// reader's own time zone rather than UTC.
document.querySelectorAll("time[datetime]").forEach((t) => {
  const at = new Date(t.getAttribute("datetime"));
  if (!isNaN(at)) t.title = at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
});
