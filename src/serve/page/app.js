// The article page: posts the article to /v1/translate?stream=ndjson and fills the page in as the
// events arrive. Article text is only ever inserted with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let result = null;
let controller = null;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

async function loadSettings() {
  try {
    const s = await (await fetch("/frontend/settings")).json();
    if (s.keyRequired) $("keybox").hidden = false;
  } catch (_) {
    // The page still works without settings; the server says what is missing.
  }
}

function showArticle(a) {
  const meta = $("meta");
  clear(meta);
  if (a.title) {
    meta.appendChild(el("h2", "title", a.title));
  }
  const by = [a.site, a.date, a.author, a.source].filter(Boolean).join(" · ");
  if (by) meta.appendChild(el("p", "byline", by));
  const pairs = $("pairs");
  clear(pairs);
  a.paragraphs.forEach((text, i) => {
    const li = el("li", "pair" + (a.kinds && a.kinds[i] === "heading" ? " heading" : ""));
    li.id = "p" + (i + 1);
    const src = el("p", "src", text);
    src.lang = "id";
    const tgt = el("p", "tgt pending", "…");
    tgt.lang = "en";
    li.append(src, tgt, el("ul", "warnings"));
    pairs.appendChild(li);
  });
  const removed = $("removed");
  clear(removed);
  (a.removed || []).forEach((r) => {
    const li = el("li");
    li.append(el("span", "reason", r.reason + ":"), document.createTextNode(r.text));
    removed.appendChild(li);
  });
  $("removedcount").textContent = String((a.removed || []).length);
  const w = $("warnings");
  clear(w);
  (a.warnings || []).forEach((x) => w.appendChild(el("li", "", x)));
  $("results").hidden = false;
}

function showParagraph(index, text) {
  const li = $("pairs").children[index];
  if (!li) return;
  const tgt = li.querySelector(".tgt");
  tgt.textContent = text;
  tgt.classList.remove("pending");
  status("Translated " + (index + 1) + " of " + $("pairs").children.length + " paragraphs…");
}

function showSummary(s) {
  if (!s.summary) return;
  $("summarybox").hidden = false;
  $("summarytext").textContent = s.summary;
  const m = s.summary_method || "";
  const how = m === "llm" ? "Written by the LLM and checked against the source."
    : m === "extractive" ? "Extractive: the article's own key sentences, translated."
    : m;
  $("method").textContent = "Method: " + how;
  const checks = $("checks");
  clear(checks);
  const c = s.summary_checks || {};
  const numbers = c.unsupported_numbers || [];
  const names = c.unsupported_names || [];
  if (numbers.length) checks.appendChild(el("li", "", "Numbers not in the source: " + numbers.join(", ")));
  if (names.length) checks.appendChild(el("li", "", "Names not in the source: " + names.join(", ")));
  if (c.retried) checks.appendChild(el("li", "", "The first draft failed the checks; this is the second."));
  Object.keys(c).forEach((k) => {
    if (["unsupported_numbers", "unsupported_names", "retried"].includes(k)) return;
    const v = c[k];
    if (Array.isArray(v) && v.length === 0) return;
    checks.appendChild(el("li", "", k.replace(/_/g, " ") + ": " + (typeof v === "object" ? JSON.stringify(v) : String(v))));
  });
  if (!checks.children.length) {
    checks.appendChild(el("li", "", m === "llm" ? "Checks: every number and name is in the source."
      : "Checks: the sentences are the article's own; the translations' number checks are shown by each paragraph."));
  }
}

// Translation warnings name their paragraph ("paragraph 3: …"): shown next to it.
function showDone(doc) {
  result = doc;
  const general = $("warnings");
  clear(general);
  (doc.warnings || []).forEach((w) => {
    const m = /^paragraph (\d+):\s*(.*)$/.exec(w);
    const li = m && $("pairs").children[Number(m[1]) - 1];
    if (li) li.querySelector(".warnings").appendChild(el("li", "", m[2]));
    else general.appendChild(el("li", "", w));
  });
  (doc.paragraphs || []).forEach((p, i) => {
    if (p.translation !== null && p.translation !== undefined) showParagraph(i, p.translation);
  });
  if (doc.title_translation) {
    const t = $("meta").querySelector(".title");
    if (t) {
      const orig = el("p", "orig", t.textContent);
      orig.lang = "id";
      t.textContent = doc.title_translation;
      t.after(orig);
    }
  }
  ["copy", "dl-md", "dl-json"].forEach((id) => ($(id).disabled = false));
  const secs = doc.timings && doc.timings.total_s ? " in " + doc.timings.total_s.toFixed(1) + " s" : "";
  status("Done" + secs + " (" + (doc.translator || "") + (doc.llm ? ", LLM " + doc.llm : "") + ").");
}

function markdown(doc) {
  const out = [];
  out.push("# " + (doc.title_translation || doc.title || "Article"));
  const by = [doc.site, doc.date, doc.author].filter(Boolean).join(" · ");
  if (by) out.push("", "*" + by + "*");
  if (doc.summary) out.push("", "## Summary", "", doc.summary, "", "*Summary method: " + doc.summary_method + "*");
  out.push("", "## Translation");
  (doc.paragraphs || []).forEach((p) => {
    out.push("", p.kind === "heading" ? "### " + (p.translation || "") : (p.translation || ""));
  });
  if ((doc.warnings || []).length) {
    out.push("", "## Warnings", "");
    doc.warnings.forEach((w) => out.push("- " + w));
  }
  return out.join("\n") + "\n";
}

function download(name, type, text) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: type }));
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function baseName() {
  const f = $("file").files[0];
  return f ? f.name.replace(/\.[^.]*$/, "") : "article";
}

function handle(ev) {
  switch (ev.type) {
    case "article": showArticle(ev.article); status("Cleaned; translating…"); break;
    case "paragraph": showParagraph(ev.index, ev.translation); break;
    case "summary": showSummary(ev); break;
    case "done": showDone(ev.result); showSummary(ev.result); break;
    case "error": status("Failed: " + ev.error, true); break;
  }
}

async function submit(e) {
  e.preventDefault();
  const form = new FormData();
  const file = $("file").files[0];
  const text = $("text").value;
  if (file) form.append("file", file, file.name);
  else if (text.trim()) form.append("text", text);
  else { status("Paste an article or choose a file first.", true); $("text").focus(); return; }
  form.append("summary", $("summary").checked ? "true" : "false");
  if (!$("keybox").hidden && $("apikey").value) form.append("api_key", $("apikey").value);
  result = null;
  ["copy", "dl-md", "dl-json"].forEach((id) => ($(id).disabled = true));
  $("summarybox").hidden = true;
  $("go").disabled = true;
  $("stop").disabled = false;
  status("Sending…");
  controller = new AbortController();
  try {
    const resp = await fetch("/v1/translate?stream=ndjson", { method: "POST", body: form, signal: controller.signal });
    if (!resp.ok) {
      let msg = resp.status + " " + resp.statusText;
      try { msg = (await resp.json()).error || msg; } catch (_) { /* not JSON */ }
      status("Failed: " + msg, true);
      return;
    }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) handle(JSON.parse(line));
      }
    }
    if (buf.trim()) handle(JSON.parse(buf));
    $("results").focus({ preventScroll: true });
  } catch (err) {
    status(err.name === "AbortError" ? "Stopped." : "Failed: " + err.message, err.name !== "AbortError");
  } finally {
    $("go").disabled = false;
    $("stop").disabled = true;
    controller = null;
  }
}

function init() {
  loadSettings();
  $("form").addEventListener("submit", submit);
  $("stop").addEventListener("click", () => controller && controller.abort());
  $("copy").addEventListener("click", async () => {
    if (!result) return;
    try { await navigator.clipboard.writeText(markdown(result)); status("Copied the Markdown."); }
    catch (_) { status("The browser refused the clipboard; use Download Markdown instead.", true); }
  });
  $("dl-md").addEventListener("click", () => result && download(baseName() + ".en.md", "text/markdown", markdown(result)));
  $("dl-json").addEventListener("click", () => result && download(baseName() + ".en.json", "application/json", JSON.stringify(result, null, 2) + "\n"));
  const drop = $("form");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
  drop.addEventListener("dragleave", () => $("drop").classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    $("drop").classList.remove("over");
    if (e.dataTransfer.files.length) {
      $("file").files = e.dataTransfer.files;
      status("Chosen: " + e.dataTransfer.files[0].name);
    }
  });
  $("file").addEventListener("change", () => {
    const f = $("file").files[0];
    if (f) status("Chosen: " + f.name);
  });
}

document.addEventListener("DOMContentLoaded", init);
