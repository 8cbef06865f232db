// The web page: upload a video, watch the job, compare before/after, download. Plain ES module, no build.
// Every API call carries the key from the key field (localStorage) as "Authorization: Bearer <key>".

const $ = (id) => document.getElementById(id);

const KEY_STORAGE = "video-enhance.api-key";
// A preview is "about one second": the page cannot read a video's frame rate before the upload (browsers do
// not expose it), so it asks for 24 frames, one second of film-rate video and less than that above 24 fps.
const PREVIEW_FRAMES = 24;
const POLL_MS = 500;
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const MAX_UPLOAD_MB = Number(document.body.dataset.maxUploadMb) || 0;
const DEFAULT_MODEL = document.body.dataset.defaultModel || "";

const state = {
  jobId: null, // the job shown in the job panel
  pollTimer: null,
  lastStatus: null,
  shownResult: null, // job id whose result is on screen
  uploads: new Map(), // job id -> File uploaded from this tab: the "before" needs no download
  objectUrls: [], // revoked when another job is shown
  xhr: null, // the upload in flight (cancel aborts it)
  models: [],
  listSeq: 0,
};

// -- API ---------------------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function apiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return ""; // storage disabled: the field still works for this visit
  }
}

function saveKey(value) {
  try {
    if (value) localStorage.setItem(KEY_STORAGE, value);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    /* storage disabled */
  }
}

function authHeaders() {
  const key = $("api-key").value.trim() || apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// The sentence to show for a failed call: the problem+json detail, plus what to do about a missing key.
function problemMessage(status, body, fallback) {
  let message = (body && (body.detail || body.title)) || fallback || `the server answered ${status}`;
  if (status === 401) message += " Enter a valid API key at the top of the page.";
  return message;
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  } catch (err) {
    throw new ApiError(0, `Cannot reach the server (${err.message}).`);
  }
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      /* not JSON: use the status text */
    }
    throw new ApiError(response.status, problemMessage(response.status, body, response.statusText));
  }
  return response;
}

// A URL a <video>/<img>/<a> can use for an API path. Media elements cannot send headers, so with a key the
// file is fetched as a blob (held in memory while shown: fine for results of a few MB); without one the
// element streams it directly with byte ranges.
async function mediaUrl(path) {
  if (!authHeaders().Authorization) return path;
  const blob = await (await api(path)).blob();
  const url = URL.createObjectURL(blob);
  state.objectUrls.push(url);
  return url;
}

function uploadJob(data, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    state.xhr = xhr;
    xhr.open("POST", "/enhance");
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener("load", () => {
      state.xhr = null;
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status === 202 && body && body.id) resolve(body);
      else reject(new ApiError(xhr.status, problemMessage(xhr.status, body, xhr.statusText)));
    });
    xhr.addEventListener("error", () => {
      state.xhr = null;
      reject(new ApiError(0, "The upload failed: the connection closed. The server may be down, or the file "
        + `larger than it accepts (${MAX_UPLOAD_MB} MB).`));
    });
    xhr.addEventListener("abort", () => {
      state.xhr = null;
      reject(new ApiError(0, "Upload canceled."));
    });
    xhr.send(data);
  });
}

// -- formatting --------------------------------------------------------------------------------------------
function fmtSeconds(seconds) {
  if (seconds < 10) return `${Math.max(0, seconds).toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function fmtSize(w, h) {
  return w && h ? `${w}×${h}` : "";
}

function el(tag, attrs = {}, text = undefined) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function showText(id, text) {
  const node = $(id);
  node.textContent = text || "";
  node.hidden = !text;
}

// -- models ------------------------------------------------------------------------------------------------
function unavailableReason(model) {
  if (!model.allowed) return "non-commercial licence: not enabled by this server's operator";
  if (!model.ready) return `weights missing: ${model.fetch || "download them on the server"}`;
  return "";
}

async function loadModels() {
  const select = $("model");
  const previous = select.value;
  try {
    state.models = await (await api("/models")).json();
  } catch (err) {
    select.replaceChildren(el("option", { value: "" }, "Models unavailable"));
    showText("form-error", err.message);
    return;
  }
  const ready = el("optgroup", { label: "Ready" });
  const unavailable = el("optgroup", { label: "Not available on this server" });
  for (const model of state.models) {
    const reason = unavailableReason(model);
    const label = `${model.name} — ${model.task}, ×${model.scale}${reason ? ` (${reason})` : ""}`;
    const option = el("option", { value: model.name }, label);
    if (reason) {
      option.disabled = true;
      option.title = reason;
      unavailable.append(option);
    } else {
      ready.append(option);
    }
  }
  select.replaceChildren(...[ready, unavailable].filter((g) => g.children.length));
  renderSteadyChoices();
  renderModelList();
  const usable = (name) => state.models.some((m) => m.name === name && !unavailableReason(m));
  const first = state.models.find((m) => !unavailableReason(m));
  select.value = [previous, DEFAULT_MODEL].find(usable) || (first ? first.name : "");
  // Say so when the server's default model cannot be used, instead of quietly picking another one
  const fallback = state.models.find((m) => m.name === DEFAULT_MODEL && unavailableReason(m));
  showText(
    "model-notice",
    fallback && !usable(previous) && first
      ? `The server's default model ${DEFAULT_MODEL} is not available (${unavailableReason(fallback)}); ` +
          `${select.value} is selected instead.`
      : "",
  );
  if (!first) showText("form-error", "No model is ready on this server: see `flask models` there.");
  modelChanged();
}

// The temporal stages (GET /models task "temporal"), offered as a second step after the chosen model: the
// job's model becomes the chain "<model>+<stage>".
function renderSteadyChoices() {
  const steady = $("steady");
  const previous = steady.value;
  const stages = state.models.filter((m) => m.task === "temporal");
  const options = stages.map((stage) => {
    const reason = unavailableReason(stage);
    const option = el("option", { value: stage.name }, `${stage.name}: ${stage.description}${reason ? ` (${reason})` : ""}`);
    option.disabled = Boolean(reason);
    return option;
  });
  steady.replaceChildren(el("option", { value: "" }, "Off: each frame on its own"), ...options);
  steady.value = stages.some((s) => s.name === previous && !unavailableReason(s)) ? previous : "";
}

// The model field as sent: the chosen model, then the temporal stage when one is chosen.
function chosenModel() {
  const model = $("model").value;
  const stage = $("steady").disabled ? "" : $("steady").value;
  return model && stage ? `${model}+${stage}` : model;
}

// Every model with its one-line description, so the choice is made knowing what each does; a usable one
// can be picked from here too.
function renderModelList() {
  const items = state.models.map((model) => {
    const reason = unavailableReason(model);
    const item = el("li", { "data-model": model.name, class: reason ? "unavailable" : "" });
    const head = el("div", { class: "model-head" });
    const name = el("button", { type: "button", class: "model-name" }, model.name);
    name.disabled = Boolean(reason);
    name.addEventListener("click", () => {
      $("model").value = model.name;
      modelChanged();
    });
    head.append(name, el("span", { class: "hint" }, `${model.task}, ×${model.scale}`));
    item.append(head, el("p", { class: "model-desc" }, model.description || ""));
    if (reason) item.append(el("p", { class: "hint" }, reason));
    return item;
  });
  $("model-list").replaceChildren(...items);
}

function modelChanged() {
  const model = state.models.find((m) => m.name === $("model").value);
  const info = $("model-info");
  for (const item of $("model-list").children) {
    item.classList.toggle("selected", Boolean(model) && item.dataset.model === model.name);
  }
  renderModelOptions(model);
  // a temporal stage is the last link of a chain: none can follow one
  $("steady").disabled = !model || model.task === "temporal";
  if (!model) {
    info.textContent = "";
    return;
  }
  info.textContent = [model.description, `licence: ${model.licence}`, "weights ready"].filter(Boolean).join(" · ");
  $("outscale").placeholder = `×${model.scale} (model)`;
}

// The selected model's own options (GET /models "options"): one input each, named as the form field the
// API takes. Empty means the model's default and is not sent. type/minimum/maximum are used when the
// server lists them; otherwise the default's JSON type decides the input.
function renderModelOptions(model) {
  const box = $("model-options");
  const options = Object.entries((model && model.options) || {});
  const taken = new Set([...$("enhance-form").elements].filter((f) => !box.contains(f)).map((f) => f.name));
  const fields = options.filter(([name]) => !taken.has(name)).map(([name, spec]) => optionField(name, spec || {}));
  box.replaceChildren(el("legend", {}, `${model ? model.name : "Model"} options`), ...fields);
  box.hidden = fields.length === 0;
}

function optionField(name, spec) {
  const id = `option-${name}`;
  const field = el("div", { class: "field" });
  const type = spec.type || (typeof spec.default === "boolean" ? "boolean" : typeof spec.default);
  let input;
  if (type === "boolean") {
    input = el("select", { id, name });
    input.append(el("option", { value: "" }, `default (${spec.default ? "on" : "off"})`));
    input.append(el("option", { value: "true" }, "on"), el("option", { value: "false" }, "off"));
  } else if (Array.isArray(spec.enum)) {
    input = el("select", { id, name });
    input.append(el("option", { value: "" }, `default (${spec.default ?? "model's"})`));
    for (const value of spec.enum) input.append(el("option", { value: String(value) }, String(value)));
  } else if (["number", "integer"].includes(type)) {
    input = el("input", { id, name, type: "number", inputmode: "decimal", step: type === "integer" ? "1" : "any" });
    if (spec.minimum !== undefined && spec.minimum !== null) input.min = String(spec.minimum);
    if (spec.maximum !== undefined && spec.maximum !== null) input.max = String(spec.maximum);
  } else {
    input = el("input", { id, name, type: "text", spellcheck: "false" });
  }
  if (input.tagName === "INPUT") input.placeholder = spec.default === undefined ? "model's default" : `${spec.default} (default)`;
  const hintId = `${id}-hint`;
  const range = spec.minimum !== undefined && spec.maximum !== undefined ? ` (${spec.minimum}–${spec.maximum})` : "";
  input.setAttribute("aria-describedby", hintId);
  field.append(el("label", { for: id }, name), input, el("span", { class: "hint", id: hintId }, `${spec.description || ""}${range}`));
  return field;
}

// CRF scales and defaults per codec, from the server (x264/x265: 0-51, libvpx-vp9: 0-63); FFV1 is lossless
// and takes none. "Automatic" (no codec sent) lets the server choose: H.264, or 10-bit H.265 for HDR input.
const CRF_SCALES = JSON.parse(document.body.dataset.crfScales || "{}");

function codecChanged() {
  const codec = $("codec").value;
  const scale = CRF_SCALES[codec || "h264"];
  const crf = $("crf");
  crf.disabled = scale === undefined; // disabled fields are not submitted
  if (scale === undefined) {
    $("crf-hint").textContent = "lossless: no CRF";
    return;
  }
  crf.max = String(scale.max);
  const defaults = codec ? scale.default : `${scale.default}; HDR input ${CRF_SCALES.h265.default}`;
  $("crf-hint").textContent = `0–${scale.max}, lower is better (default ${defaults})`;
}

// -- file choice and submit --------------------------------------------------------------------------------
function fileChanged() {
  const file = $("file").files[0];
  $("file-name").textContent = file
    ? `${file.name} (${fmtBytes(file.size)})`
    : `No file chosen (up to ${MAX_UPLOAD_MB} MB)`;
  $("drop-zone").classList.toggle("has-file", Boolean(file));
  showText("form-error", "");
}

function setupDropZone() {
  const zone = $("drop-zone");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, () => zone.classList.remove("dragging"));
  }
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) {
      $("file").files = e.dataTransfer.files;
      fileChanged();
    }
  });
  // a file dropped next to the zone would make the browser navigate away from the page
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
}

function setBusy(busy) {
  $("enhance").disabled = busy;
  $("preview").disabled = busy;
  $("enhance-form").setAttribute("aria-busy", String(busy));
}

async function submit(preview) {
  showText("form-error", "");
  const file = $("file").files[0];
  if (!file) {
    showText("form-error", "Choose a video first (drop it on the box or use the file picker).");
    return;
  }
  if (MAX_UPLOAD_MB && file.size > MAX_UPLOAD_MB * 1024 * 1024) {
    showText("form-error", `The file is ${fmtBytes(file.size)}: this server accepts up to ${MAX_UPLOAD_MB} MB.`);
    return;
  }
  const data = new FormData();
  data.append("file", file, file.name);
  for (const field of $("enhance-form").elements) {
    if (!field.name || field.type === "file" || field.disabled || field.value === "") continue;
    data.append(field.name, field.value);
  }
  if (data.has("model")) data.set("model", chosenModel());
  if (preview) data.append("frames", String(PREVIEW_FRAMES));
  setBusy(true);
  showUploading(file);
  try {
    const doc = await uploadJob(data, (loaded, total) => {
      $("job-progress").value = loaded / total;
      $("job-progress-text").textContent = `Uploading: ${fmtBytes(loaded)} of ${fmtBytes(total)}`;
    });
    state.uploads.set(doc.id, file);
    location.hash = `job=${doc.id}`; // hashchange shows it; a reload or a shared link comes back to it
    refreshJobs();
  } catch (err) {
    showText("form-error", err.message);
    if (state.jobId) watch(state.jobId);
    else $("job").hidden = true;
  } finally {
    setBusy(false);
  }
}

// -- the job panel -----------------------------------------------------------------------------------------
function stopPolling() {
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

function clearResult() {
  for (const media of document.querySelectorAll("#compare video")) {
    media.pause();
    media.removeAttribute("src");
    media.load(); // lets the browser drop the buffered media now
  }
  $("before-slot").replaceChildren();
  $("after-slot").replaceChildren();
  $("compare").hidden = true;
  showText("job-estimate", "");
  const download = $("download");
  download.hidden = true;
  download.removeAttribute("href");
  for (const url of state.objectUrls) URL.revokeObjectURL(url);
  state.objectUrls = [];
  state.shownResult = null;
}

function showUploading(file) {
  stopPolling();
  clearResult();
  $("job").hidden = false;
  $("job-title").textContent = "Uploading";
  setStatus("uploading");
  $("job-summary").textContent = `${file.name} · ${fmtBytes(file.size)}`;
  $("job-progress").value = 0;
  $("job-progress-text").textContent = "Uploading…";
  $("cancel").hidden = false;
  showText("job-error", "");
}

function setStatus(status) {
  const badge = $("job-status");
  badge.textContent = status;
  badge.className = `badge status-${status}`;
}

function watch(id) {
  stopPolling();
  clearResult();
  state.jobId = id;
  state.lastStatus = null;
  $("job").hidden = false;
  $("job-title").textContent = `Job ${id.slice(0, 8)}…`;
  $("job-title").title = id;
  setStatus("loading");
  $("job-summary").textContent = "";
  $("job-progress-text").textContent = "";
  $("cancel").hidden = true;
  showText("job-error", "");
  markCurrentInList();
  poll(id);
}

async function poll(id) {
  let doc;
  try {
    doc = await (await api(`/jobs/${encodeURIComponent(id)}`)).json();
  } catch (err) {
    if (id !== state.jobId) return;
    showText("job-error", err.message);
    if (err.status === 0 || err.status === 429 || err.status >= 500) state.pollTimer = setTimeout(() => poll(id), 4 * POLL_MS);
    return;
  }
  if (id !== state.jobId) return; // another job was opened meanwhile
  if (!state.xhr) renderJob(doc);
  if (!TERMINAL.has(doc.status)) state.pollTimer = setTimeout(() => poll(id), POLL_MS);
}

function summaryOf(doc) {
  const input = doc.input || {};
  const parts = [doc.model, input.name];
  const from = fmtSize(input.width, input.height);
  const to = fmtSize(input.output_width, input.output_height);
  if (from && to) parts.push(`${from} → ${to}`);
  if (doc.options && doc.options.frames) parts.push(`preview: first ${doc.options.frames} frames`);
  const deint = input.deinterlaced;
  if (deint) parts.push(`deinterlaced (${deint.mode === "field" ? "field: one frame per field" : "frame"})`);
  return parts.filter(Boolean).join(" · ");
}

function progressText(doc) {
  const p = doc.progress;
  const frames = `${p.frames_done} / ${p.frames_total ?? "?"} frames`;
  switch (doc.status) {
    case "queued":
      return "Waiting in the queue…";
    case "running": {
      const parts = [frames];
      if (p.fps) parts.push(`${p.fps.toFixed(1)} fps`);
      if (p.eta_seconds !== null && p.eta_seconds !== undefined) parts.push(`ETA ${fmtSeconds(p.eta_seconds)}`);
      return parts.join(" · ");
    }
    case "succeeded": {
      const took = (Date.parse(doc.finished_at) - Date.parse(doc.started_at)) / 1000;
      return `Done: ${p.frames_done} frames${Number.isFinite(took) ? ` in ${fmtSeconds(took)}` : ""}.`;
    }
    case "canceled":
      return `Canceled after ${frames}.`;
    default:
      return `Stopped after ${frames}.`;
  }
}

// After a preview: how long the whole video would take at the speed the preview ran (an estimate: the
// preview's speed includes the model's start-up, and a busy server is slower).
function estimateText(doc) {
  const input = doc.input || {};
  const p = doc.progress || {};
  if (doc.status !== "succeeded" || !(doc.options && doc.options.frames) || !input.frames) return "";
  const perInputFrame = input.deinterlaced && input.deinterlaced.mode === "field" ? 2 : 1;
  const total = input.frames * perInputFrame;
  if (total <= p.frames_done) return ""; // the "preview" was the whole video
  const took = (Date.parse(doc.finished_at) - Date.parse(doc.started_at)) / 1000;
  const fps = p.fps || (took > 0 ? p.frames_done / took : 0);
  if (!fps) return "";
  const length = input.duration ? `, ${fmtSeconds(input.duration)}` : "";
  return `Estimate for the whole video (${total} frames${length}): about ${fmtSeconds(total / fps)} `
    + `at the ${fps.toFixed(1)} fps this preview ran.`;
}

function renderJob(doc) {
  setStatus(doc.status);
  $("job-summary").textContent = summaryOf(doc);
  const bar = $("job-progress");
  if (doc.status === "queued") bar.removeAttribute("value"); // indeterminate while waiting
  else bar.value = doc.status === "succeeded" ? 1 : doc.progress.fraction;
  $("job-progress-text").textContent = progressText(doc);
  showText("job-estimate", estimateText(doc));
  $("cancel").hidden = TERMINAL.has(doc.status);
  showText("job-error", doc.error ? `${doc.error.title}: ${doc.error.detail}` : "");
  if (doc.status !== state.lastStatus) {
    if (state.lastStatus !== null) refreshJobs(); // the list shows statuses too
    state.lastStatus = doc.status;
  }
  if (doc.status === "succeeded" && doc.result_url && state.shownResult !== doc.id) {
    state.shownResult = doc.id;
    showResult(doc).catch((err) => {
      if (doc.id === state.jobId) showText("job-error", err.message);
    });
  }
}

async function cancelJob() {
  if (state.xhr) {
    state.xhr.abort();
    return;
  }
  const id = state.jobId;
  if (!id) return;
  $("cancel").disabled = true;
  try {
    // DELETE on a finished job deletes it: look first, in case it finished since the last poll
    const doc = await (await api(`/jobs/${encodeURIComponent(id)}`)).json();
    if (!TERMINAL.has(doc.status)) await api(`/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (err) {
    showText("job-error", err.message);
  } finally {
    $("cancel").disabled = false;
  }
  if (id === state.jobId) {
    stopPolling();
    poll(id);
  }
  refreshJobs();
}

// -- result: download link and before/after ----------------------------------------------------------------
const RESULT_TYPES = {
  h264: 'video/mp4; codecs="avc1.640028"',
  h265: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
  vp9: 'video/webm; codecs="vp9"',
  ffv1: 'video/x-matroska; codecs="ffv1"',
};

// "<input stem>-<model>.<ext>", the same name as the server's Content-Disposition (app/api.py download_name)
function resultName(doc) {
  const stem = ((doc.input && doc.input.name) || "video").replace(/\.[^.]*$/, "") || "video";
  const model = (doc.model || "").replace(/\+/g, "_").replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "");
  return `${stem}-${model || "enhanced"}.${(doc.options && doc.options.container) || "mp4"}`;
}

function makeMedia(kind, url, label, muted) {
  const media = kind === "image"
    ? el("img", { alt: label })
    : el("video", { playsinline: "", preload: "auto", "aria-label": label });
  // a file gone from the server (expired) or a format this browser cannot decode: say so in its place
  media.addEventListener("error", () => {
    if (media.isConnected) media.replaceWith(el("p", { class: "hint missing" }, `${label}: this browser cannot show it.`));
  });
  if (kind !== "image") media.muted = muted; // the result carries the same audio: one voice is enough
  media.src = url;
  return media;
}

async function showResult(doc) {
  const id = doc.id;
  const kind = (doc.input && doc.input.kind) || "video";
  const input = doc.input || {};
  const download = $("download");
  download.textContent = `Download ${resultName(doc)}`;
  download.setAttribute("download", resultName(doc));
  const codec = (doc.options && doc.options.codec) || "h264";
  const playable = kind === "image" || document.createElement("video").canPlayType(RESULT_TYPES[codec] || "") !== "";

  // the "before" of a file uploaded from this tab is that file; otherwise the server's stored copy
  const file = state.uploads.get(id);
  let beforeUrl;
  if (file) {
    beforeUrl = URL.createObjectURL(file);
    state.objectUrls.push(beforeUrl);
  }
  const [before, after] = await Promise.all([
    beforeUrl || mediaUrl(`/jobs/${encodeURIComponent(id)}/input`).catch(() => null),
    mediaUrl(doc.result_url),
  ]);
  if (id !== state.jobId) return;
  download.href = after;
  download.hidden = false;

  const factor = input.width && input.output_width ? input.output_width / input.width : 0;
  const enlarged = factor > 1 ? `, shown ×${+factor.toFixed(2)} pixel by pixel` : "";
  const beforeLabel = `Before: original ${fmtSize(input.width, input.height)}${enlarged}`;
  const afterLabel = `After: ${doc.model} ${fmtSize(input.output_width, input.output_height)}`.trim();
  $("before-caption").textContent = beforeLabel;
  $("after-caption").textContent = afterLabel;
  const beforeNode = before
    ? makeMedia(kind, before, beforeLabel, true)
    : el("p", { class: "hint missing" }, "The original upload is no longer stored.");
  const afterNode = playable
    ? makeMedia(kind, after, afterLabel, false)
    : el("p", { class: "hint missing" }, `This browser cannot play ${codec}: download the file to watch it.`);
  $("before-slot").replaceChildren(beforeNode);
  $("after-slot").replaceChildren(afterNode);
  const both = !beforeNode.classList.contains("missing") && !afterNode.classList.contains("missing");
  // with one side missing the view shows the other whole, without a divider
  $("divider").hidden = !both;
  setWipe(both ? 0.5 : before ? 1 : 0);
  compare.width = input.output_width || 0;
  compare.height = input.output_height || 0;
  setZoom("fit");
  const videos = beforeNode instanceof HTMLVideoElement && afterNode instanceof HTMLVideoElement;
  $("transport").hidden = kind === "image" || !(afterNode instanceof HTMLVideoElement);
  if (afterNode instanceof HTMLVideoElement) driveTransport(afterNode);
  if (videos) followVideo(beforeNode, afterNode);
  $("compare").hidden = false;
}

// -- the before/after view: one picture, a divider to drag, zoom to the result's own pixels ----------------
const compare = { zoom: "fit", wipe: 0.5, width: 0, height: 0 };

function setWipe(fraction) {
  compare.wipe = Math.min(1, Math.max(0, fraction));
  $("stage").style.setProperty("--wipe", String(compare.wipe));
  const divider = $("divider");
  const percent = Math.round(compare.wipe * 100);
  divider.setAttribute("aria-valuenow", String(percent));
  divider.setAttribute("aria-valuetext", `${percent}% original`);
}

function wipeTo(clientX) {
  const rect = $("stage").getBoundingClientRect();
  if (rect.width) setWipe((clientX - rect.left) / rect.width);
}

// "fit": the whole picture in the panel; "1", "2": one (two) screen pixels per pixel of the result, in a view
// that pans. The original is stretched to the same box with nearest neighbour (CSS pixelated), so each of
// its pixels shows as a block and the upscale is judged against what it started from.
function setZoom(zoom) {
  compare.zoom = zoom;
  for (const button of document.querySelectorAll("[data-zoom]")) {
    button.setAttribute("aria-pressed", String(button.dataset.zoom === zoom));
  }
  const stage = $("stage");
  const view = $("wipe");
  const { width, height } = compare;
  if (width && height) stage.style.setProperty("--ratio", String(width / height));
  const zoomed = zoom !== "fit" && width > 0 && height > 0;
  view.classList.toggle("zoomed", zoomed);
  if (!zoomed) {
    stage.style.removeProperty("width");
    stage.style.removeProperty("height");
    return;
  }
  const scale = Number(zoom) / (window.devicePixelRatio || 1);
  stage.style.width = `${width * scale}px`;
  stage.style.height = `${height * scale}px`;
  // keep the divider in sight: centre the view on it
  view.scrollLeft = width * scale * compare.wipe - view.clientWidth / 2;
  view.scrollTop = (height * scale - view.clientHeight) / 2;
}

// Whether the result is drawn larger than its own pixels (the class makes it nearest-neighbour too).
function markEnlarged() {
  const shown = $("stage").getBoundingClientRect().width * (window.devicePixelRatio || 1);
  $("wipe").classList.toggle("enlarged", compare.width > 0 && shown > compare.width + 0.5);
}

function setupCompare() {
  const stage = $("stage");
  const view = $("wipe");
  const divider = $("divider");
  let drag = null;
  new ResizeObserver(markEnlarged).observe(stage); // zoom, window size, panel layout
  stage.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    // zoomed, the picture pans when grabbed anywhere but on the divider; at "fit" a press moves the divider
    if (e.target !== divider && view.classList.contains("zoomed")) {
      drag = { pan: true, x: e.clientX, y: e.clientY, left: view.scrollLeft, top: view.scrollTop };
    } else if (!divider.hidden) {
      drag = { pan: false };
      wipeTo(e.clientX);
    } else {
      return;
    }
    stage.setPointerCapture(e.pointerId);
    stage.classList.add("dragging");
    e.preventDefault();
  });
  stage.addEventListener("pointermove", (e) => {
    if (!drag) return;
    if (!drag.pan) {
      wipeTo(e.clientX);
      return;
    }
    view.scrollLeft = drag.left - (e.clientX - drag.x);
    view.scrollTop = drag.top - (e.clientY - drag.y);
  });
  for (const type of ["pointerup", "pointercancel"]) {
    stage.addEventListener(type, () => {
      drag = null;
      stage.classList.remove("dragging");
    });
  }
  divider.addEventListener("keydown", (e) => {
    const step = e.shiftKey ? 0.1 : 0.02;
    const moves = { ArrowLeft: -step, ArrowDown: -step, ArrowRight: step, ArrowUp: step, Home: -1, End: 1 };
    if (!(e.key in moves)) return;
    e.preventDefault();
    setWipe(compare.wipe + moves[e.key]);
  });
  for (const button of document.querySelectorAll("[data-zoom]")) {
    button.addEventListener("click", () => setZoom(button.dataset.zoom));
  }
}

// The result drives: the play button and the position slider act on it, and it loops over its own
// length. The original follows it (below), so before and after always show the same moment.
function driveTransport(after) {
  const seek = $("seek");
  const play = $("play");
  after.loop = true;
  const show = () => {
    seek.value = String(after.currentTime);
    $("time").textContent = `${after.currentTime.toFixed(2)} s / ${(after.duration || 0).toFixed(2)} s`;
  };
  after.addEventListener("durationchange", () => {
    seek.max = String(after.duration || 1);
    show();
  });
  after.addEventListener("timeupdate", show);
  after.addEventListener("seeked", show);
  after.addEventListener("play", () => {
    play.textContent = "Pause";
  });
  after.addEventListener("pause", () => {
    play.textContent = "Play";
  });
  play.textContent = "Play";
  play.onclick = () => (after.paused ? after.play().catch(() => {}) : after.pause());
  seek.oninput = () => {
    after.currentTime = Number(seek.value);
  };
}

// The original follows the result's play, pause, seek and speed, and never plays past the result's end:
// a one-second preview is compared with the first second of the original, not played next to all of it.
function followVideo(before, after) {
  const align = () => {
    if (Math.abs(before.currentTime - after.currentTime) > 0.001) before.currentTime = after.currentTime;
  };
  after.addEventListener("play", () => {
    align();
    before.play().catch(() => {}); // autoplay refused: the result still plays
  });
  after.addEventListener("pause", () => {
    before.pause();
    align();
  });
  after.addEventListener("seeking", align); // also fires when the result loops back to the start
  after.addEventListener("ratechange", () => {
    before.playbackRate = after.playbackRate;
  });
  // decoders drift apart on long videos: pull the original back to the result
  after.addEventListener("timeupdate", () => {
    if (!after.paused && Math.abs(before.currentTime - after.currentTime) > 0.1) align();
  });
  before.addEventListener("timeupdate", () => {
    if (after.duration && before.currentTime > after.duration) {
      before.pause();
      align();
    }
  });
}

// -- recent jobs -------------------------------------------------------------------------------------------
function downloadLink(doc) {
  const link = el("a", { download: resultName(doc), href: doc.result_url }, "Download");
  link.addEventListener("click", async (e) => {
    if (!authHeaders().Authorization) return; // a plain link works without a key
    e.preventDefault();
    try {
      const url = URL.createObjectURL(await (await api(doc.result_url)).blob());
      const temp = el("a", { href: url, download: resultName(doc) });
      temp.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      showText("jobs-error", err.message);
    }
  });
  return link;
}

function markCurrentInList() {
  for (const item of $("jobs").children) item.classList.toggle("current", item.dataset.id === state.jobId);
}

async function refreshJobs() {
  const seq = ++state.listSeq;
  let page;
  try {
    page = await (await api("/jobs?limit=20")).json();
  } catch (err) {
    if (seq !== state.listSeq) return;
    $("jobs").replaceChildren();
    showText("jobs-error", err.message);
    $("jobs-empty").hidden = true;
    return;
  }
  if (seq !== state.listSeq) return; // a newer refresh already answered
  showText("jobs-error", "");
  const items = page.jobs.map((doc) => {
    const item = el("li", { "data-id": doc.id });
    const head = el("div", { class: "job-head" });
    const open = el("a", { href: `#job=${doc.id}`, class: "job-name" }, (doc.input && doc.input.name) || doc.id);
    head.append(el("span", { class: `badge status-${doc.status}` }, doc.status), open);
    const when = doc.created_at ? new Date(doc.created_at).toLocaleString() : "";
    const detail = [doc.model, doc.options && doc.options.frames ? `first ${doc.options.frames} frames` : "", when];
    const meta = el("div", { class: "hint" }, detail.filter(Boolean).join(" · "));
    item.append(head, meta);
    if (doc.result_url) meta.append(" · ", downloadLink(doc));
    return item;
  });
  $("jobs").replaceChildren(...items);
  $("jobs-empty").hidden = items.length > 0;
  markCurrentInList();
}

// -- start -------------------------------------------------------------------------------------------------
function jobFromHash() {
  const match = /^#job=([\w-]+)$/.exec(location.hash);
  return match ? match[1] : null;
}

function keyChanged() {
  const value = $("api-key").value.trim();
  saveKey(value);
  showText("form-error", "");
  loadModels();
  refreshJobs();
  if (state.jobId) watch(state.jobId);
}

function start() {
  $("api-key").value = apiKey();
  $("api-key").addEventListener("change", keyChanged);
  $("key-form").addEventListener("submit", (e) => e.preventDefault()); // Enter already fired "change"
  $("file").addEventListener("change", fileChanged);
  $("model").addEventListener("change", modelChanged);
  $("codec").addEventListener("change", codecChanged);
  codecChanged();
  setupCompare();
  $("enhance-form").addEventListener("submit", (e) => {
    e.preventDefault();
    submit(false);
  });
  $("preview").addEventListener("click", () => submit(true));
  $("cancel").addEventListener("click", cancelJob);
  $("refresh").addEventListener("click", refreshJobs);
  window.addEventListener("hashchange", () => {
    const id = jobFromHash();
    if (id && id !== state.jobId) watch(id);
  });
  setupDropZone();
  fileChanged();
  loadModels();
  refreshJobs();
  const id = jobFromHash();
  if (id) watch(id);
}

start();
